package main

// Running the firewall programs. This uses fork and exec directly rather
// than os/exec, whose Cmd starts Go's network poller and a goroutine per
// pipe on first use, and iblock is a new process for every connection.
// TestSpawnCostsNoMoreThanOsExec measures both ways, a new process each
// time, and prints their medians.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	programTimeout = 10 * time.Second
	killGrace      = time.Second // for a killed program to be reaped
	keptOutput     = 1024        // bytes of a program's output kept for the log
	firstPause     = 20 * time.Microsecond
	longestPause   = 10 * time.Millisecond
)

// programPath is the whole environment of the programs iblock runs: the
// safe PATH doas gives its commands, and nothing iblock inherited (under
// inetd or systemd that is LISTEN_FDS and the like; LD_PRELOAD must never
// reach a program run as root).
const programPath = "PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin"

// spawner runs programs with /dev/null as their stdin. It opens /dev/null
// once, before the sandbox is applied: after pledge, OpenBSD lets a process
// open /dev/null only because its kernel makes an exception for that path.
type spawner struct {
	devnull int
}

func newSpawner() (*spawner, error) {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("/dev/null: %w", err)
	}
	return &spawner{devnull: fd}, nil
}

// result is how a program ended and the start of what it printed.
type result struct {
	argv     []string
	status   unix.WaitStatus
	output   []byte // stdout and stderr together, at most keptOutput bytes
	err      error  // it could not be started, or could not be stopped
	timeout  time.Duration
	timedOut bool
}

func (res *result) ok() bool { return res.exitedWith(0) }

func (res *result) exitedWith(code int) bool {
	return res.err == nil && !res.timedOut && res.status.Exited() && res.status.ExitStatus() == code
}

// spawn runs argv with /dev/null as stdin and a pipe as stdout and stderr,
// never the caller's fds: under inetd those are the scanner's socket.
func (sp *spawner) spawn(argv []string, timeout time.Duration) *result {
	res := &result{argv: argv, timeout: timeout}
	pid, out, err := sp.start(argv)
	if err != nil {
		res.err = err
		return res
	}
	defer unix.Close(out)
	res.reap(pid, out, time.Now().Add(timeout))
	return res
}

// start starts argv in a process group of its own, so that after the
// timeout everything it started can be killed with it. It returns the pid
// and the read end of the program's output.
func (sp *spawner) start(argv []string) (pid, out int, err error) {
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return 0, -1, fmt.Errorf("pipe: %w", err)
	}
	pid, err = syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   []string{programPath},
		Files: []uintptr{uintptr(sp.devnull), uintptr(pipe[1]), uintptr(pipe[1])},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	unix.Close(pipe[1])
	if err != nil {
		unix.Close(pipe[0])
		return 0, -1, fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	return pid, pipe[0], nil
}

// reap reads the program's output until it has exited, and reaps it.
// It never blocks for long: a program that hangs, or that leaves a child
// holding the pipe, must not hold iblock. While the pipe is open it polls
// it a millisecond at a time (poll's unit), checking for the exit in
// between; once the pipe is closed it sleeps in pauses that double from
// firstPause up to longestPause.
func (res *result) reap(pid, out int, deadline time.Time) {
	pipeOpen, pause := true, firstPause
	for {
		if pipeOpen {
			var event bool
			event, pipeOpen = res.readOutput(out, pause)
			if event {
				pause = firstPause
			}
		} else {
			ts := unix.NsecToTimespec(int64(pause))
			unix.Nanosleep(&ts, nil)
			pause = min(2*pause, longestPause)
		}
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if wpid == pid {
			res.status = ws
			if pipeOpen && !res.drain(out) {
				// It exited, but something it started still holds its output.
				unix.Kill(-pid, unix.SIGKILL)
			}
			return
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Not iblock's child any more (ECHILD): its end is unknown,
			// and its pid, and so its process group, may be another's now.
			res.err = fmt.Errorf("cannot wait for it: %w", err)
			return
		}
		if time.Now().After(deadline) {
			if res.timedOut {
				res.err = fmt.Errorf("killed after %v but still running", res.timeout)
				return
			}
			res.timedOut = true
			if err := unix.Kill(-pid, unix.SIGKILL); err != nil {
				// pfctl run by doas is root's, and iblock cannot kill it.
				res.err = fmt.Errorf("still running after %v and cannot be killed: %w", res.timeout, err)
				return
			}
			deadline = time.Now().Add(killGrace)
		}
	}
}

// readOutput waits up to pause (at least a millisecond, poll's unit) for
// output, keeps the first keptOutput bytes and drops the rest, so that a
// program printing megabytes neither blocks nor fills memory. It reports
// whether anything happened and whether the pipe is still open.
func (res *result) readOutput(out int, pause time.Duration) (event, open bool) {
	fds := []unix.PollFd{{Fd: int32(out), Events: unix.POLLIN}}
	ms := max(int(pause/time.Millisecond), 1)
	if n, err := unix.Poll(fds, ms); n <= 0 || err != nil {
		return false, true
	}
	var buf [4096]byte
	n, err := unix.Read(out, buf[:])
	if n > 0 {
		res.keep(buf[:n])
		return true, true
	}
	if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
		return true, true
	}
	return true, false
}

// drain reads, without waiting, what the pipe holds once the program has
// exited, and reports whether it reached the end of the pipe (end of file,
// or a read error). False means something the program started still holds
// the pipe open: nothing to read yet, or more than 64 reads of output, as
// from something left behind that keeps writing.
func (res *result) drain(out int) bool {
	for i := 0; i < 64; i++ {
		fds := []unix.PollFd{{Fd: int32(out), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 0); n <= 0 || err != nil {
			return false
		}
		var buf [4096]byte
		n, err := unix.Read(out, buf[:])
		if n <= 0 && !errors.Is(err, unix.EINTR) {
			return true
		}
		res.keep(buf[:max(n, 0)])
	}
	return false
}

// keep appends to the output what fits in keptOutput bytes.
func (res *result) keep(b []byte) {
	room := max(keptOutput-len(res.output), 0)
	res.output = append(res.output, b[:min(len(b), room)]...)
}

// failure is the error of a program that did not succeed, for the log:
// its argv, how it ended and the first line it printed, then hint. It
// wraps res.err, what kept the program from running or from ending.
func (res *result) failure(hint string) error {
	if res.err != nil {
		return fmt.Errorf("%s: %w%s", strings.Join(res.argv, " "), res.err, hint)
	}
	return fmt.Errorf("%s%s", res.describe(), hint)
}

// describe says how a program that ran ended: its argv, then how, then the
// first line it printed.
func (res *result) describe() string {
	msg := strings.Join(res.argv, " ") + ": "
	switch {
	case res.timedOut:
		msg += fmt.Sprintf("killed after %v", res.timeout)
	case res.status.Signaled():
		msg += fmt.Sprintf("killed by signal %d", int(res.status.Signal()))
	default:
		msg += fmt.Sprintf("exit status %d", res.status.ExitStatus())
	}
	if line := firstLine(res.output); line != "" {
		msg += ": " + line
	}
	return msg
}

// firstLine is the first non-blank line of a program's output.
func firstLine(out []byte) string {
	for _, line := range bytes.Split(out, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return string(line)
		}
	}
	return ""
}
