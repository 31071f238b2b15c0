package main

// Every way a firewall program can fail iblock, each run the way inetd
// runs iblock. Whatever the fault, iblock must end the same way: one
// daemon.err line that names the cause, exit status 1, no state killed
// after a failed add, nothing sent to the scanner, nothing left running,
// and its memory bounded however much the program prints.

import (
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"iblock/internal/testkit"
)

// maxRSSKiB bounds iblock's resident memory while the program it runs
// prints 64 MiB, which iblock would exceed if it kept what it reads.
const maxRSSKiB = 32 << 10

func TestEveryFirewallFaultEndsInOneClearErrorAndNothingLeftRunning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    string // how the fakes misbehave
		backend string // "" is pf
		doas    bool   // run the program through the fake doas
		program string // the program's name in the fake directory, if not the backend's
		v6      bool   // the scanner connects over IPv6
		want    string // in the err line, with DIR/ for the fakes' directory
		slow    bool   // ends at the 10 s timeout
	}{
		{name: "missing program", program: "no-pfctl", want: "cannot run DIR/no-pfctl: no such file or directory"},
		{name: "program not executable", program: "pfctl-not-executable",
			want: "cannot run DIR/pfctl-not-executable: permission denied"},
		{name: "pfctl exits 255", mode: "add-fails", doas: true,
			want: "DIR/doas -n DIR/pfctl -t iblocked -T add 127.0.0.1: exit status 255: pfctl: Invalid argument."},
		{name: "doas denies", mode: "doas-deny", doas: true, want: "exit status 1: doas: Operation not permitted"},
		{name: "program hangs", mode: "hang", doas: true, slow: true, want: "DIR/pfctl -t iblocked -T add 127.0.0.1: killed after 10s"},
		{name: "program prints 64 MiB", mode: "flood", want: "exit status 1: " + strings.Repeat("x", 100)},
		{name: "child holds the output", mode: "orphan,add-fails", want: "exit status 255: pfctl: Invalid argument."},
		{name: "nft set absent", mode: "set-missing", backend: "nft", v6: true,
			want: "Error: No such file or directory; set iblocked6 is missing from table inet iblock"},
		{name: "ipset absent", mode: "set-missing", backend: "ipset",
			want: "The set with the given name does not exist; set iblocked is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.slow {
				testkit.Slow(t)
			}
			fk := testkit.NewFakeDir(t)
			if tc.mode != "" {
				fk.SetMode(t, tc.mode)
			}
			os.WriteFile(fk.Path("pfctl-not-executable"), []byte("#!/bin/sh\n"), 0o644)
			backend := cmp.Or(tc.backend, "pf")
			program, helper, sc := cmp.Or(tc.program, programOf[backend]), "none", testkit.Loopback4
			if tc.doas {
				helper = fk.Path("doas")
			}
			if tc.v6 {
				sc = testkit.Loopback6
			}
			c := testkit.RunInetd(t, testkit.Iblock(t), fk, sc, "-w", "/dev/null", "-b", backend, "-d", helper, "-c", fk.Path(program))
			c.WantExit(t, exitFailure)
			wantOneError(t, c, strings.ReplaceAll(tc.want, "DIR/", fk.Dir+"/"))
			for _, call := range c.Calls {
				if len(call.Argv) > 1 && call.Argv[len(call.Argv)-2] == "-k" {
					t.Errorf("states were killed after a failed add: %q", call.Argv)
				}
				waitGone(t, call.Pid)
			}
			if pid, err := os.ReadFile(filepath.Join(fk.State, "orphan.pid")); err == nil {
				n, _ := strconv.Atoi(string(pid))
				waitGone(t, n)
			} else if strings.Contains(tc.mode, "orphan") {
				t.Error("the fake left no child behind")
			}
			if tc.mode == "flood" {
				wantPeakMemory(t, fk)
			}
			// Only a hung program may hold iblock until the timeout, and
			// then not much longer.
			switch {
			case tc.slow && (c.Elapsed < programTimeout || c.Elapsed > programTimeout+2*killGrace):
				t.Errorf("iblock took %v, want %v and a little more", c.Elapsed, programTimeout)
			case !tc.slow && c.Elapsed >= programTimeout:
				t.Errorf("iblock took %v, as long as a hung program's timeout", c.Elapsed)
			}
		})
	}
}

// wantOneError fails the test unless iblock logged exactly one line at err,
// containing text, and no line longer than syslog takes.
func wantOneError(t *testing.T, c testkit.Connection, text string) {
	t.Helper()
	var errs []string
	for _, l := range c.Logs {
		if l.Pri == priErr {
			errs = append(errs, l.Msg)
		}
		if len(l.Msg) > maxLogLine {
			t.Errorf("log line of %d bytes", len(l.Msg))
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], text) {
		t.Errorf("want one err line containing %q; got %q", text, errs)
	}
}

// waitGone fails the test unless the process ends within 5 s. A zombie has
// ended: nobody may be left to reap what iblock's programs left behind.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	testkit.WaitUntil(t, 5*time.Second, "process "+strconv.Itoa(pid)+" is still running", func() bool {
		return unix.Kill(pid, 0) == unix.ESRCH || isZombie(pid)
	})
}

// isZombie reports whether pid has ended but is not yet reaped, where /proc
// says so; elsewhere it reports false, and waitGone waits for the reaping.
func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+3 <= len(s) && s[i+2] == 'Z'
}

// wantPeakMemory fails unless the flood recorded iblock's peak memory, and
// it stayed under maxRSSKiB.
func wantPeakMemory(t *testing.T, fk *testkit.FakeDir) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fk.State, "iblock-peak-kib"))
	if err != nil {
		t.Fatalf("the program recorded no peak memory of iblock: %v", err)
	}
	kib, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Report(t, "iblock's peak memory while the program printed 64 MiB: %d KiB", kib)
	if kib > maxRSSKiB {
		t.Errorf("iblock used %d KiB, more than %d", kib, maxRSSKiB)
	}
}
