package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOutputIsBoundedAndFirstLineIsReported(t *testing.T) {
	res := testSpawner(t).spawn([]string{"/bin/sh", "-c", "echo; echo '  first line  '; yes second | head -c 3000000; exit 1"}, 5*time.Second)
	if len(res.output) != keptOutput {
		t.Errorf("kept %d bytes, want %d", len(res.output), keptOutput)
	}
	if !strings.HasSuffix(res.describe(), ": exit status 1: first line") {
		t.Errorf("describe: %q", res.describe())
	}
}

func TestProgramIsKilledAtTheTimeoutWithWhatItStarted(t *testing.T) {
	start := time.Now()
	res := testSpawner(t).spawn([]string{"/bin/sh", "-c", "sleep 60 & sleep 60"}, 300*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if !res.timedOut || !strings.HasSuffix(res.describe(), ": killed after 300ms") {
		t.Errorf("describe: %q", res.describe())
	}
}

func testSpawner(t *testing.T) *spawner {
	t.Helper()
	sp, err := newSpawner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sp.devnull) })
	return sp
}

// spawnOnce is the whole of a process started with IBLOCK_SPAWN_VIA set:
// it runs /bin/true once, as iblock runs a program, with spawn or with
// os/exec, and exits. Timing such processes measures what each way costs a
// connection, start-up included.
func spawnOnce(via string) int {
	argv := []string{"/bin/true"}
	if via == "spawn" {
		sp, err := newSpawner()
		if err != nil || !sp.spawn(argv, programTimeout).ok() {
			return 1
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), programTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Env = &out, &out, programEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Run() != nil {
		return 1
	}
	return 0
}

// TestOsExecCostsEachConnectionMore starts processes that run a program
// through spawn and through os/exec, taking turns, and compares the
// medians.
func TestOsExecCostsEachConnectionMore(t *testing.T) {
	slow(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	times := map[string][]time.Duration{}
	for i := 0; i < 41; i++ {
		for _, via := range []string{"spawn", "os/exec"} {
			cmd := exec.Command(exe)
			cmd.Env = []string{"IBLOCK_SPAWN_VIA=" + via}
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", via, err, out)
			}
			times[via] = append(times[via], time.Since(start))
		}
	}
	own, std := median(times["spawn"]), median(times["os/exec"])
	report(t, "a process that runs /bin/true once: %v with spawn, %v with os/exec (medians of 41): os/exec costs %v more",
		own.Round(10*time.Microsecond), std.Round(10*time.Microsecond), (std - own).Round(10*time.Microsecond))
	if own >= std {
		t.Errorf("spawn took %v, os/exec %v", own, std)
	}
}
