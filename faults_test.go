package main

// Every way a firewall program can fail iblock, each run the way inetd
// runs iblock. Whatever the fault, iblock must end the same way: one
// daemon.err line that names the cause, exit status 1, no state killed
// after a failed add, nothing sent to the scanner, nothing left running,
// and its memory bounded however much the program prints.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// maxRSSKiB bounds iblock's resident memory. wait4 counts the programs it
// ran too, which are this test binary; the flood below prints 64 MiB, which
// iblock would exceed if it kept what it reads.
const maxRSSKiB = 32 << 10

func TestEveryFirewallFaultEndsInOneClearErrorAndNothingLeftRunning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    string // how the fakes misbehave
		backend string
		doas    bool   // run the program through the fake doas
		program string // the program's name in the fake directory
		sc      scanner
		want    func(fk *fakeDir) string // in the err line
		slow    bool                     // ends at the 10 s timeout
	}{
		{name: "missing program", backend: "pf", program: "no-pfctl", sc: scanner4,
			want: func(fk *fakeDir) string { return "cannot run " + fk.path("no-pfctl") + ": no such file or directory" }},
		{name: "program not executable", backend: "pf", program: "pfctl-not-executable", sc: scanner4,
			want: func(fk *fakeDir) string {
				return "cannot run " + fk.path("pfctl-not-executable") + ": permission denied"
			}},
		{name: "pfctl exits 255", mode: "add-fails", backend: "pf", doas: true, program: "pfctl", sc: scanner4,
			want: func(fk *fakeDir) string {
				return fk.path("doas") + " -n " + fk.path("pfctl") + " -t iblocked -T add 127.0.0.1: exit status 255: pfctl: Invalid argument."
			}},
		{name: "doas denies", mode: "doas-deny", backend: "pf", doas: true, program: "pfctl", sc: scanner4,
			want: func(*fakeDir) string { return "exit status 1: doas: Operation not permitted" }},
		{name: "program hangs", mode: "hang", backend: "pf", doas: true, program: "pfctl", sc: scanner4, slow: true,
			want: func(fk *fakeDir) string { return fk.path("pfctl") + " -t iblocked -T add 127.0.0.1: killed after 10s" }},
		{name: "program prints 64 MiB", mode: "flood", backend: "pf", program: "pfctl", sc: scanner4,
			want: func(*fakeDir) string { return "exit status 1: " + strings.Repeat("x", 100) }},
		{name: "child holds the output", mode: "orphan,add-fails", backend: "pf", program: "pfctl", sc: scanner4,
			want: func(*fakeDir) string { return "exit status 255: pfctl: Invalid argument." }},
		{name: "nft set absent", mode: "set-missing", backend: "nft", program: "nft", sc: scanner6,
			want: func(*fakeDir) string {
				return "Error: No such file or directory; set iblocked6 is missing from table inet iblock"
			}},
		{name: "ipset absent", mode: "set-missing", backend: "ipset", program: "ipset", sc: scanner4,
			want: func(*fakeDir) string { return "The set with the given name does not exist; set iblocked is missing" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fk := newFakeDir(t)
			if tc.slow {
				slow(t)
			}
			if tc.mode != "" {
				fk.setMode(t, tc.mode)
			}
			os.WriteFile(fk.path("pfctl-not-executable"), []byte("#!/bin/sh\n"), 0o644)
			helper := "none"
			if tc.doas {
				helper = fk.path("doas")
			}
			c := runInetd(t, iblockBin, fk, tc.sc, "-w", "/dev/null", "-b", tc.backend, "-d", helper, "-c", fk.path(tc.program))
			c.wantExit(t, exitFailure)
			c.wantOneError(t, tc.want(fk))
			for _, call := range c.calls {
				if len(call.Argv) > 1 && call.Argv[len(call.Argv)-2] == "-k" {
					t.Errorf("states were killed after a failed add: %q", call.Argv)
				}
				waitGone(t, call.Pid)
			}
			if pid, err := os.ReadFile(filepath.Join(fk.state, "orphan.pid")); err == nil {
				n, _ := strconv.Atoi(string(pid))
				waitGone(t, n)
			} else if strings.Contains(tc.mode, "orphan") {
				t.Error("the fake left no child behind")
			}
			if tc.mode == "flood" {
				report(t, "iblock's peak memory while the program printed 64 MiB: %d KiB", c.maxRSSKiB)
			}
			if c.maxRSSKiB > maxRSSKiB {
				t.Errorf("iblock used %d KiB, more than %d", c.maxRSSKiB, maxRSSKiB)
			}
			switch {
			case tc.slow && (c.elapsed < 10*time.Second || c.elapsed > 12*time.Second):
				t.Errorf("iblock took %v, want about 10s", c.elapsed)
			case !tc.slow && c.elapsed > 2*time.Second:
				t.Errorf("iblock took %v", c.elapsed)
			}
		})
	}
}

// wantOneError fails the test unless iblock logged exactly one line at err,
// containing text, and no line longer than syslog takes.
func (c connection) wantOneError(t *testing.T, text string) {
	t.Helper()
	var errs []string
	for _, l := range c.logs {
		if l.pri == priErr {
			errs = append(errs, l.msg)
		}
		if len(l.msg) > maxLogLine {
			t.Errorf("log line of %d bytes", len(l.msg))
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
	waitUntil(t, 5*time.Second, "process "+strconv.Itoa(pid)+" is still running", func() bool {
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
