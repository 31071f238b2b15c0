package main

import (
	"errors"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// syslogSocket, when set at link time (-ldflags "-X main.syslogSocket=PATH"),
// replaces the system's syslog sockets. The tests use it to read the log.
var syslogSocket string

// syslogPath is where syslogd listens: /var/run/log on FreeBSD and NetBSD,
// /dev/log elsewhere.
func syslogPath(goos string) string {
	switch {
	case syslogSocket != "":
		return syslogSocket
	case goos == "freebsd" || goos == "netbsd":
		return "/var/run/log"
	}
	return "/dev/log"
}

// Priorities: facility daemon with severity err or notice.
const (
	priErr    = 3<<3 | 3
	priNotice = 3<<3 | 5
)

const maxLogLine = 1024

// A syslogd that does not read must not delay the ban: a line waits at
// most lineWait for room in its queue, all lines of a run together at most
// logBudget, and a line that would wait longer is dropped.
const (
	lineWait  = 40 * time.Millisecond
	logBudget = 100 * time.Millisecond
)

// logger sends lines to syslog and, when a person runs iblock by hand, to
// stderr. Under inetd stderr is the scanner's socket, so it is never
// written to then.
type logger struct {
	path   string        // of the syslog socket
	fd     int           // non-blocking syslog socket; -1 when not connected
	stream bool          // fd is a stream socket: lines end with a newline
	waited time.Duration // spent waiting for syslogd so far
	stderr int8          // 0 not yet known, 1 a terminal or file, -1 a socket or closed
	tag    string
}

func newLogger() *logger {
	return &logger{path: syslogPath(runtime.GOOS), fd: -1, tag: "iblock[" + strconv.Itoa(unix.Getpid()) + "]: "}
}

func (l *logger) notice(msg string) { l.send(priNotice, msg) }
func (l *logger) err(msg string)    { l.send(priErr, msg) }

// send writes one line. syslogd stamps the time when it receives it, so the
// line carries none, and iblock needs no time zone.
func (l *logger) send(pri int, msg string) {
	msg = printable(msg)
	if l.stderrIsForPeople() {
		unix.Write(2, []byte("iblock: "+msg+"\n"))
	}
	line := []byte("<" + strconv.Itoa(pri) + ">" + l.tag + msg)
	if len(line) > maxLogLine {
		line = line[:maxLogLine]
	}
	// Every line dials if there is no socket: syslogd may have started
	// since, or restarted, which a failed write shows.
	for try := 0; try < 2; try++ {
		if l.fd < 0 {
			l.dial()
		}
		if l.fd < 0 {
			return
		}
		if err := l.write(line); err == nil || errors.Is(err, errStalled) {
			return
		}
		l.close()
	}
}

var errStalled = errors.New("syslogd does not read")

// write sends one line, waiting for room within the limits above.
func (l *logger) write(line []byte) error {
	if l.stream {
		line = append(line, '\n')
	}
	start := time.Now()
	deadline := start.Add(min(lineWait, logBudget-l.waited))
	defer func() { l.waited += time.Since(start) }()
	for sent := false; len(line) > 0; {
		n, err := unix.Write(l.fd, line)
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN) && waitWritable(l.fd, deadline):
		case errors.Is(err, unix.EAGAIN) && sent:
			// Half a line went out: the next one needs a new stream.
			l.close()
			return errStalled
		case errors.Is(err, unix.EAGAIN):
			return errStalled
		case err != nil:
			return err
		default:
			line, sent = line[n:], true
		}
	}
	return nil
}

// waitWritable waits until fd can take more, or the deadline passes.
func waitWritable(fd int, deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, max(int(left/time.Millisecond), 1))
	return err == nil && n > 0 && fds[0].Revents&unix.POLLOUT != 0
}

// dial connects to syslogd, on a datagram socket as syslogd listens on
// most systems, or, when connect says the socket is a stream
// (EPROTOTYPE), on a stream socket, as syslog-ng can be set to listen and
// as the C library's syslog(3) then does too. On a stream, each line ends
// with a newline: syslog-ng, rsyslog and OpenBSD's syslogd all read that
// framing, while octet counting (RFC 6587) needs them configured for it;
// printable() keeps newlines out of the message itself. Failing is not an
// error: iblock still blocks.
func (l *logger) dial() {
	for _, kind := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
		fd, err := unix.Socket(unix.AF_UNIX, kind|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return
		}
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: l.path})
		if err == nil {
			l.fd, l.stream = fd, kind == unix.SOCK_STREAM
			return
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EPROTOTYPE) {
			return
		}
	}
}

func (l *logger) close() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// stderrIsForPeople reports whether fd 2 is open and not a socket.
func (l *logger) stderrIsForPeople() bool {
	if l.stderr == 0 {
		var st unix.Stat_t
		l.stderr = -1
		if unix.Fstat(2, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			l.stderr = 1
		}
	}
	return l.stderr > 0
}

// printable replaces control bytes, so that a program's output cannot forge
// log lines.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] < ' ' || b[j] == 0x7f {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}
