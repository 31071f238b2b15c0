package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"iblock/internal/testkit"
)

// waitExited waits until pid has exited without reaping it, so that
// collect finds a program that is already gone.
func waitExited(t *testing.T, pid int) {
	t.Helper()
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOutputOfAProgramThatAlreadyExitedIsKept(t *testing.T) {
	argv := []string{"/bin/sh", "-c", "echo 'pfctl: Invalid argument.' >&2; exit 255"}
	pid, out, err := testSpawner(t).start(argv)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out)
	waitExited(t, pid)
	res := &result{argv: argv, timeout: time.Second}
	res.reap(pid, out, time.Now().Add(time.Second))
	if got := res.describe(); got != strings.Join(argv, " ")+": exit status 255: pfctl: Invalid argument." {
		t.Errorf("describe: %q", got)
	}
}

// TestDevNullIsOpenedOnceBeforeThePeerIsRead traces iblock's own system
// calls: /dev/null, the programs' stdin, must be opened once, before
// getpeername, which comes right after the sandbox on OpenBSD.
func TestDevNullIsOpenedOnceBeforeThePeerIsRead(t *testing.T) {
	t.Parallel()
	strace := testkit.NeedTool(t, "strace")
	fk := testkit.NewFakeDir(t)
	allow := fk.Path("allow") // not /dev/null, which would be opened as the allowlist
	if err := os.WriteFile(allow, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	trace := fk.Path("trace")
	c := testkit.RunInetd(t, strace, fk, testkit.Loopback4, "-f", "-o", trace, "-e", "trace=openat,getpeername,execve",
		testkit.Iblock(t), "-w", allow, "-b", "pf", "-d", "none", "-c", fk.Path("pfctl"))
	c.WantExit(t, exitOK)
	if len(c.Calls) != 2 {
		t.Errorf("ran %d programs, want pfctl's add and kill", len(c.Calls))
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if got := devNullAndPeer(string(data)); got != "open /dev/null, getpeername" {
		t.Errorf("iblock did %s; want open /dev/null, getpeername\n%s", got, data)
	}
}

// devNullAndPeer lists, in order, the opens of /dev/null and the calls to
// getpeername in an strace -f output, leaving out the processes iblock
// started once they have run their program: every thread of iblock.
func devNullAndPeer(trace string) string {
	var events []string
	execed := map[string]bool{}
	first := true
	for _, line := range strings.Split(trace, "\n") {
		pid, call, _ := strings.Cut(line, " ")
		call = strings.TrimSpace(call)
		switch {
		case execed[pid]:
		case strings.HasPrefix(call, "execve("):
			execed[pid] = !first
			first = false
		case strings.HasPrefix(call, "getpeername("):
			events = append(events, "getpeername")
		case strings.HasPrefix(call, "openat(") && strings.Contains(call, `"/dev/null"`):
			events = append(events, "open /dev/null")
		}
	}
	return strings.Join(events, ", ")
}
