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

func TestOutputIsBoundedAndFirstLineIsReported(t *testing.T) {
	res := runProgram([]string{"/bin/sh", "-c", "echo; echo '  first line  '; yes second | head -c 3000000; exit 1"}, 5*time.Second)
	if len(res.output) != keptOutput {
		t.Errorf("kept %d bytes, want %d", len(res.output), keptOutput)
	}
	if !strings.HasSuffix(res.describe(), ": exit status 1: first line") {
		t.Errorf("describe: %q", res.describe())
	}
}

func TestProgramIsKilledAtTheTimeoutWithWhatItStarted(t *testing.T) {
	start := time.Now()
	res := runProgram([]string{"/bin/sh", "-c", "sleep 60 & sleep 60"}, 300*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if !res.timedOut || !strings.HasSuffix(res.describe(), ": killed after 300ms") {
		t.Errorf("describe: %q", res.describe())
	}
}
