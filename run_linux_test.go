package main

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	pid, out, err := startProgram(argv)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out)
	waitExited(t, pid)
	res := &result{argv: argv, timeout: time.Second}
	res.collect(pid, out, time.Now().Add(time.Second))
	if got := res.describe(); got != strings.Join(argv, " ")+": exit status 255: pfctl: Invalid argument." {
		t.Errorf("describe: %q", got)
	}
}
