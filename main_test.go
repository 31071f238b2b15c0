package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each test runs the built iblock under the inetd stand-in; runInetd
// itself fails any test in which the scanner receives a byte.

func TestPfBansThroughDoasAddingBeforeKillingStates(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scanner4, "-w", "/dev/null", "-b", "pf", "-d", fk.path("doas"), "-c", fk.path("pfctl"))
	c.wantExit(t, exitOK)
	c.wantArgv(t,
		[]string{fk.path("doas"), "-n", fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.1"},
		[]string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.1"},
		[]string{fk.path("doas"), "-n", fk.path("pfctl"), "-k", "127.0.0.1"},
		[]string{fk.path("pfctl"), "-k", "127.0.0.1"},
	)
	c.wantLog(t, priNotice, "blocking 127.0.0.1")
	if got := fk.table(t, "iblocked"); strings.Join(got, " ") != "127.0.0.1" {
		t.Errorf("table iblocked holds %v", got)
	}
}

func TestLogLinesCarryDaemonFacilityTagAndPid(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scanner4, "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
	c.wantExit(t, exitOK)
	// The listener only files lines of the form <pri>iblock[pid]: msg under their pid.
	if len(c.logs) != 1 || c.logs[0] != (logLine{3<<3 | 5, "blocking 127.0.0.1"}) {
		t.Errorf("log of pid %d: %v, want one daemon.notice line", c.pid, c.logs)
	}
}

func TestEveryBackendRunsItsCommandsForBothFamilies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend string
		sc      scanner
		want    func(p string) [][]string
	}{
		{"pf", scanner6, func(p string) [][]string {
			return [][]string{{p, "-t", "iblocked", "-T", "add", "::1"}, {p, "-k", "::1"}}
		}},
		{"npf", scanner4, func(p string) [][]string { return [][]string{{p, "table", "iblocked", "add", "127.0.0.1"}} }},
		{"npf", scanner6, func(p string) [][]string { return [][]string{{p, "table", "iblocked", "add", "::1"}} }},
		{"nft", scanner4, func(p string) [][]string {
			return [][]string{{p, "add", "element", "inet", "iblock", "iblocked", "{", "127.0.0.1", "}"}}
		}},
		{"nft", scanner6, func(p string) [][]string {
			return [][]string{{p, "add", "element", "inet", "iblock", "iblocked6", "{", "::1", "}"}}
		}},
		{"ipset", scanner4, func(p string) [][]string { return [][]string{{p, "add", "iblocked", "127.0.0.1", "-exist"}} }},
		{"ipset", scanner6, func(p string) [][]string { return [][]string{{p, "add", "iblocked6", "::1", "-exist"}} }},
	} {
		t.Run(tc.backend+tc.sc.listen, func(t *testing.T) {
			t.Parallel()
			fk := newFakeDir(t)
			program := fk.path(map[string]string{"pf": "pfctl", "npf": "npfctl", "nft": "nft", "ipset": "ipset"}[tc.backend])
			c := runInetd(t, iblockBin, fk, tc.sc, "-w", "/dev/null", "-b", tc.backend, "-d", "none", "-c", program)
			c.wantExit(t, exitOK)
			c.wantArgv(t, tc.want(program)...)
		})
	}
}

func TestMappedIPv4PeerIsBannedAsIPv4(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scannerMapped, "-w", "/dev/null", "-b", "nft", "-d", "none", "-c", fk.path("nft"))
	c.wantExit(t, exitOK)
	c.wantArgv(t, []string{fk.path("nft"), "add", "element", "inet", "iblock", "iblocked", "{", "127.0.0.1", "}"})
	c.wantLog(t, priNotice, "blocking 127.0.0.1")
}

func TestTableNamesAreCheckedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	long31 := strings.Repeat("t", 31)
	for _, tc := range []struct {
		table string
		ok    bool
	}{
		{"iblocked", true}, {"a-b_c.d", true}, {long31, true},
		{"", false}, {long31 + "t", false}, {"-t", false}, {"a b", false},
		{"a\nb", false}, {"a;b", false}, {"a/b", false}, {"{", false},
	} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			fk := newFakeDir(t)
			c := runInetd(t, iblockBin, fk, scanner4, "-w", "/dev/null", "-b", "pf", "-K", "-d", "none", "-c", fk.path("pfctl"), "--", tc.table)
			if tc.ok {
				c.wantExit(t, exitOK)
				c.wantArgv(t, []string{fk.path("pfctl"), "-t", tc.table, "-T", "add", "127.0.0.1"})
				return
			}
			c.wantExit(t, exitFailure)
			c.wantArgv(t)
			c.wantLog(t, priErr, "bad table name")
		})
	}
}

func TestLoopbackIsAllowlistedByDefault(t *testing.T) {
	t.Parallel()
	for _, sc := range []scanner{scanner4, scanner6, scannerMapped} {
		fk := newFakeDir(t)
		c := runInetd(t, iblockBin, fk, sc, "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
		c.wantExit(t, exitOK)
		c.wantArgv(t)
		c.wantLog(t, priNotice, "not blocking")
		c.wantLog(t, priNotice, ": allowlisted")
	}
}

func TestAllowlistFileReplacesTheDefault(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	allow := filepath.Join(fk.dir, "allow")
	os.WriteFile(allow, []byte("# the admin's own networks\n\n127.0.0.0/30   # local\n2001:db8::1\n"), 0o644)
	args := []string{"-w", allow, "-b", "pf", "-K", "-d", "none", "-c", fk.path("pfctl")}

	c := runInetd(t, iblockBin, fk, scanner{listen: "127.0.0.2:0", from: "127.0.0.2"}, args...)
	c.wantExit(t, exitOK)
	c.wantArgv(t)
	c.wantLog(t, priNotice, "not blocking 127.0.0.2: allowlisted")

	c = runInetd(t, iblockBin, fk, scanner{listen: "127.0.0.9:0", from: "127.0.0.9"}, args...)
	c.wantExit(t, exitOK)
	c.wantArgv(t, []string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.9"})

	c = runInetd(t, iblockBin, fk, scanner6, args...) // ::1 is no longer allowlisted
	c.wantArgv(t, []string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "::1"})
}

func TestBadAllowlistBlocksNothing(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	bad := filepath.Join(fk.dir, "allow")
	os.WriteFile(bad, []byte("127.0.0.1\n192.0.2.300\n"), 0o644)
	for _, tc := range []struct{ file, want string }{
		{bad, `line 2: "192.0.2.300" is not an address or a prefix`},
		{filepath.Join(fk.dir, "missing"), "no such file or directory"},
	} {
		c := runInetd(t, iblockBin, fk, scanner4, "-w", tc.file, "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
		c.wantExit(t, exitFailure)
		c.wantArgv(t)
		c.wantLog(t, priErr, tc.want)
	}
}

func TestDryRunLogsCommandsAndRunsNothing(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scanner4, "-n", "-w", "/dev/null", "-b", "pf", "-d", "/usr/bin/doas")
	c.wantExit(t, exitOK)
	c.wantArgv(t)
	c.wantLog(t, priNotice, "dry run: would run /usr/bin/doas -n /sbin/pfctl -t iblocked -T add 127.0.0.1")
	c.wantLog(t, priNotice, "dry run: would run /usr/bin/doas -n /sbin/pfctl -k 127.0.0.1")
}

func TestKeepStatesOnlyAdds(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scanner4, "-K", "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
	c.wantExit(t, exitOK)
	c.wantArgv(t, []string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.1"})
}

func TestPrefixFlagsBanTheNetwork(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockBin, fk, scanner{listen: "127.0.0.9:0", from: "127.0.0.9"}, "-4", "24", "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
	c.wantArgv(t, []string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.0/24"}, []string{fk.path("pfctl"), "-k", "127.0.0.0/24"})
	c.wantLog(t, priNotice, "blocking 127.0.0.0/24")
	c = runInetd(t, iblockBin, fk, scanner6, "-6", "64", "-w", "/dev/null", "-b", "ipset", "-d", "none", "-c", fk.path("ipset"))
	c.wantArgv(t, []string{fk.path("ipset"), "add", "iblocked6", "::/64", "-exist"})
}

func TestUsageErrorsRunNothing(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-x"}, {"-b", "iptables"}, {"-b"}, {"-c", "pfctl"}, {"-d", "doas"}, {"-4", "8"}, {"-4", "33"},
		{"-6", "16"}, {"-6", "x"}, {"-w", ""}, {"iblocked", "extra"},
	} {
		fk := newFakeDir(t)
		c := runInetd(t, iblockBin, fk, scanner4, append([]string{"-w", "/dev/null"}, args...)...)
		c.wantExit(t, exitFailure)
		c.wantArgv(t)
		c.wantLog(t, priErr, "usage: iblock")
	}
}

func TestSpuriousNftOverlapIsTriedAgain(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	fk.mode = "overlap"
	args := []string{"-w", "/dev/null", "-b", "nft", "-d", "none", "-c", fk.path("nft")}
	add := []string{fk.path("nft"), "add", "element", "inet", "iblock", "iblocked", "{", "127.0.0.1", "}"}
	c := runInetd(t, iblockBin, fk, scanner4, args...)
	c.wantExit(t, exitOK)
	c.wantArgv(t, add, add, add)
	fk.mode = "overlap-always"
	c = runInetd(t, iblockBin, fk, scanner4, args...)
	c.wantExit(t, exitFailure)
	c.wantArgv(t, add, add, add)
	c.wantOneError(t, "exit status 1: netlink: Error: interval overlaps with an existing one")
}

func TestNpfEntryAlreadyThereIsSuccess(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	args := []string{"-w", "/dev/null", "-b", "npf", "-d", "none", "-c", fk.path("npfctl")}
	runInetd(t, iblockBin, fk, scanner4, args...).wantExit(t, exitOK)
	c := runInetd(t, iblockBin, fk, scanner4, args...)
	c.wantExit(t, exitOK)
	c.wantArgv(t, []string{fk.path("npfctl"), "table", "iblocked", "add", "127.0.0.1"})
	c.wantLog(t, priNotice, "blocking 127.0.0.1")
}

// waitGone waits until the process is gone or a zombie, for up to 5s.
func waitGone(t *testing.T, pid string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || processState(string(stat)) == "Z" {
			return
		}
	}
	t.Errorf("process %s is still running", pid)
}

// processState is the third field of /proc/PID/stat, after the parenthesised name.
func processState(stat string) string {
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+3 <= len(stat) {
		return stat[i+2 : i+3]
	}
	return ""
}

func TestNoSyslogSocketStillBlocks(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	c := runInetd(t, iblockWithoutLog, fk, scanner4, "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
	c.wantExit(t, exitOK)
	c.wantArgv(t, []string{fk.path("pfctl"), "-t", "iblocked", "-T", "add", "127.0.0.1"}, []string{fk.path("pfctl"), "-k", "127.0.0.1"})
}

func TestStdinThatIsNotATCPConnectionIsRefused(t *testing.T) {
	t.Parallel()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	defer pw.Close()
	unixSock := unixSocketPair(t)
	for _, tc := range []struct {
		name  string
		stdin *os.File
		exit  int
		want  string
	}{
		{"devnull", devnull, exitFailure, "standard input is not a socket"},
		{"pipe", pr, exitFailure, "standard input is not a socket"},
		{"unix socket", unixSock, exitNotInet, "peer is neither IPv4 nor IPv6"},
	} {
		fk := newFakeDir(t)
		stderr, _ := os.Create(filepath.Join(fk.dir, "stderr"))
		c := runWithStdio(t, iblockBin, fk, tc.stdin, stderr, "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.path("pfctl"))
		stderr.Close()
		c.wantExit(t, tc.exit)
		c.wantArgv(t)
		c.wantLog(t, priErr, tc.want)
		// Run by hand, with stderr a file rather than the socket, iblock says why there too.
		if said, _ := os.ReadFile(stderr.Name()); !strings.Contains(string(said), "iblock: "+tc.want) {
			t.Errorf("%s: stderr %q", tc.name, said)
		}
	}
}

func TestSocketInheritedOnFd3NeverReachesPrograms(t *testing.T) {
	t.Parallel()
	fk := newFakeDir(t)
	fk.extraFiles = []*os.File{unixSocketPair(t)} // as systemd passes the connection on fd 3
	c := runInetd(t, iblockBin, fk, scanner4, "-w", "/dev/null", "-b", "nft", "-d", "none", "-c", fk.path("nft"))
	c.wantExit(t, exitOK)
	if len(c.calls) != 1 {
		t.Fatalf("ran %d commands", len(c.calls))
	} // fk.calls fails the test if the fake saw a socket on any fd
}
