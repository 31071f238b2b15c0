package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"iblock/internal/testkit"
)

// Each case runs the built iblock under the inetd stand-in; runInetd itself
// fails any case in which the scanner receives a byte, and fakeDir.calls
// any in which a program gets the socket or iblock's environment.

// connCase is one connection and how it must end. Its command line is
// -w, then -b backend -d helper -c program, then flags. In run, the
// fields P and D stand for the fake program and the fake doas.
type connCase struct {
	name    string
	sc      testkit.Scanner
	backend string   // "" is pf
	doas    bool     // run the program through the fake doas
	allow   string   // text of the -w file; "" is -w /dev/null, defaultAllow no -w
	flags   []string // after -c program
	mode    string   // how the fakes misbehave
	before  int      // runs before the one checked, as when a scanner comes back
	exit    int
	run     []string // each command run, in order
	notice  string   // a notice line contains it
	err     string   // an err line contains it
}

const defaultAllow = "(default)"

var programOf = map[string]string{"pf": "pfctl", "npf": "npfctl", "nft": "nft", "ipset": "ipset"}

// check runs the case and fails the test unless it ended as the case says.
func (tc connCase) check(t *testing.T) testkit.Connection {
	t.Helper()
	return tc.checkWith(t, testkit.Iblock(t))
}

// checkWith is check with another build of iblock.
func (tc connCase) checkWith(t *testing.T, bin string) testkit.Connection {
	t.Helper()
	fk := testkit.NewFakeDir(t)
	if tc.mode != "" {
		fk.SetMode(t, tc.mode)
	}
	sc := tc.sc
	if sc.Listen == "" {
		sc = testkit.Loopback4
	}
	args := tc.args(t, fk)
	for i := 0; i < tc.before; i++ {
		testkit.RunInetd(t, bin, fk, sc, args...)
	}
	c := testkit.RunInetd(t, bin, fk, sc, args...)
	c.WantExit(t, tc.exit)
	var want [][]string
	for _, line := range tc.run {
		want = append(want, tc.expand(fk, line))
	}
	c.WantArgv(t, want...)
	if tc.notice != "" {
		c.WantLog(t, priNotice, tc.notice)
	}
	if tc.err != "" {
		c.WantLog(t, priErr, tc.err)
	}
	return c
}

func (tc connCase) args(t *testing.T, fk *testkit.FakeDir) []string {
	t.Helper()
	backend := tc.backend
	if backend == "" {
		backend = "pf"
	}
	var args []string
	switch tc.allow {
	case "":
		args = append(args, "-w", "/dev/null")
	case defaultAllow:
	default:
		path := fk.Path("allow")
		if err := os.WriteFile(path, []byte(tc.allow), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-w", path)
	}
	helper := "none"
	if tc.doas {
		helper = fk.Path("doas")
	}
	args = append(args, "-b", backend, "-d", helper, "-c", fk.Path(programOf[backend]))
	return append(args, tc.flags...)
}

// expand turns a line of run into an argv.
func (tc connCase) expand(fk *testkit.FakeDir, line string) []string {
	backend := tc.backend
	if backend == "" {
		backend = "pf"
	}
	argv := strings.Fields(line)
	for i, f := range argv {
		switch f {
		case "P":
			argv[i] = fk.Path(programOf[backend])
		case "D":
			argv[i] = fk.Path("doas")
		}
	}
	return argv
}

func checkAll(t *testing.T, cases []connCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t)
		})
	}
}

func TestEachBackendRunsItsCommandsInOrder(t *testing.T) {
	checkAll(t, []connCase{
		{name: "pf through doas adds before killing states", doas: true, run: []string{
			"D -n P -t iblocked -T add 127.0.0.1", "P -t iblocked -T add 127.0.0.1",
			"D -n P -k 127.0.0.1", "P -k 127.0.0.1"}, notice: "blocking 127.0.0.1"},
		{name: "pf IPv6", sc: testkit.Loopback6, run: []string{"P -t iblocked -T add ::1", "P -k ::1"}},
		{name: "pf -K only adds", flags: []string{"-K"}, run: []string{"P -t iblocked -T add 127.0.0.1"}},
		{name: "npf", backend: "npf", run: []string{"P table iblocked add 127.0.0.1"}},
		{name: "npf IPv6", backend: "npf", sc: testkit.Loopback6, run: []string{"P table iblocked add ::1"}},
		{name: "npf entry already there is success", backend: "npf", before: 1,
			run: []string{"P table iblocked add 127.0.0.1"}, notice: "blocking 127.0.0.1"},
		{name: "nft", backend: "nft", run: []string{"P add element inet iblock iblocked { 127.0.0.1 }"}},
		{name: "nft IPv6", backend: "nft", sc: testkit.Loopback6, run: []string{"P add element inet iblock iblocked6 { ::1 }"}},
		{name: "ipset", backend: "ipset", run: []string{"P add iblocked 127.0.0.1 -exist"}},
		{name: "ipset IPv6", backend: "ipset", sc: testkit.Loopback6, run: []string{"P add iblocked6 ::1 -exist"}},
		{name: "mapped IPv4 peer is banned as IPv4", backend: "nft", sc: testkit.LoopbackMapped,
			run: []string{"P add element inet iblock iblocked { 127.0.0.1 }"}, notice: "blocking 127.0.0.1"},
		{name: "spurious nft overlap is tried again", backend: "nft", mode: "overlap",
			run: []string{"P add element inet iblock iblocked { 127.0.0.1 }", "P add element inet iblock iblocked { 127.0.0.1 }",
				"P add element inet iblock iblocked { 127.0.0.1 }"}},
		{name: "lasting nft overlap fails after three tries", backend: "nft", mode: "overlap-always", exit: exitFailure,
			run: []string{"P add element inet iblock iblocked { 127.0.0.1 }", "P add element inet iblock iblocked { 127.0.0.1 }",
				"P add element inet iblock iblocked { 127.0.0.1 }"},
			err: "exit status 1: netlink: Error: interval overlaps with an existing one"},
		{name: "dry run logs and runs nothing", flags: []string{"-n", "-d", "/usr/bin/doas", "-c", "/sbin/pfctl"},
			notice: "dry run: would run /usr/bin/doas -n /sbin/pfctl -k 127.0.0.1"},
	})
}

func TestPrefixFlagsBanTheNetworkButNeverAnAllowlistedAddress(t *testing.T) {
	from9 := testkit.Scanner{Listen: "127.0.0.9:0", From: "127.0.0.9"}
	checkAll(t, []connCase{
		{name: "-4 24", sc: from9, flags: []string{"-4", "24"},
			run: []string{"P -t iblocked -T add 127.0.0.0/24", "P -k 127.0.0.0/24"}, notice: "blocking 127.0.0.0/24"},
		{name: "-6 64", backend: "ipset", sc: testkit.Loopback6, flags: []string{"-6", "64"}, run: []string{"P add iblocked6 ::/64 -exist"}},
		{name: "-4 24 over an allowlisted address", sc: from9, allow: "127.0.0.5\n", flags: []string{"-4", "24"},
			run:    []string{"P -t iblocked -T add 127.0.0.9", "P -k 127.0.0.9"},
			notice: "blocking 127.0.0.9 alone: 127.0.0.0/24 would cover allowlisted 127.0.0.5"},
		{name: "dry run over an allowlisted address", sc: from9, allow: "127.0.0.5\n", flags: []string{"-n", "-4", "24"},
			notice: "dry run: would block 127.0.0.9 alone: 127.0.0.0/24 would cover allowlisted 127.0.0.5"},
		{name: "-6 64 over an allowlisted network", backend: "nft", sc: testkit.Loopback6, allow: "::2/127\n", flags: []string{"-6", "64"},
			run:    []string{"P add element inet iblock iblocked6 { ::1 }"},
			notice: "blocking ::1 alone: ::/64 would cover allowlisted ::2/127"},
	})
}

func TestAllowlistDecidesWhoIsNeverBanned(t *testing.T) {
	own := "# the admin's own networks\n\n127.0.0.0/30   # local\n2001:db8::1\n"
	checkAll(t, []connCase{
		{name: "loopback by default", allow: defaultAllow, notice: "not blocking 127.0.0.1: allowlisted"},
		{name: "loopback IPv6 by default", allow: defaultAllow, sc: testkit.Loopback6, notice: "not blocking ::1: allowlisted"},
		{name: "mapped loopback by default", allow: defaultAllow, sc: testkit.LoopbackMapped, notice: "not blocking 127.0.0.1: allowlisted"},
		{name: "file entry", allow: own, sc: testkit.Scanner{Listen: "127.0.0.2:0", From: "127.0.0.2"},
			notice: "not blocking 127.0.0.2: allowlisted"},
		{name: "outside the file", allow: own, sc: testkit.Scanner{Listen: "127.0.0.9:0", From: "127.0.0.9"},
			run: []string{"P -t iblocked -T add 127.0.0.9", "P -k 127.0.0.9"}},
		{name: "the file replaces the default", allow: own, sc: testkit.Loopback6, run: []string{"P -t iblocked -T add ::1", "P -k ::1"}},
	})
}

func TestBadAllowlistBlocksNothing(t *testing.T) {
	t.Parallel()
	fk := testkit.NewFakeDir(t)
	fifo := fk.Path("fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{fk.Path("missing"), "allowlist " + fk.Path("missing") + ": no such file or directory"},
		{fifo, "allowlist " + fifo + ": not a regular file"},
		{"/dev/zero", "allowlist /dev/zero: not a regular file"},
		{fk.Dir, "allowlist " + fk.Dir + ": not a regular file"},
	} {
		c := testkit.RunInetd(t, testkit.Iblock(t), fk, testkit.Loopback4, "-w", tc.file, "-b", "pf", "-d", "none", "-c", fk.Path("pfctl"))
		c.WantExit(t, exitFailure)
		c.WantArgv(t)
		wantOneError(t, c, tc.want)
	}
	checkAll(t, []connCase{{name: "a bad line", allow: "127.0.0.1\n192.0.2.300\n", exit: exitFailure,
		err: `line 2: "192.0.2.300" is not an address or a prefix`}})
}

func TestUsageErrorsRunNothing(t *testing.T) {
	long31 := strings.Repeat("t", 31)
	var cases []connCase
	for _, flags := range [][]string{
		{"-x"}, {"-b", "iptables"}, {"-b"}, {"-c", "pfctl"}, {"-d", "doas"}, {"-4", "8"}, {"-4", "33"},
		{"-6", "16"}, {"-6", "x"}, {"-w", ""}, {"iblocked", "extra"},
		{"--", ""}, {"--", long31 + "t"}, {"--", "-t"}, {"--", "a b"}, {"--", "a\nb"}, {"--", "a;b"},
		{"--", "a/b"}, {"--", "{"},
	} {
		cases = append(cases, connCase{name: strings.Join(flags, " "), flags: flags, exit: exitFailure, err: "usage: iblock"})
	}
	for _, table := range []string{"iblocked", "a-b_c.d", long31} {
		cases = append(cases, connCase{name: "table " + table, flags: []string{"-K", "--", table},
			run: []string{"P -t " + table + " -T add 127.0.0.1"}})
	}
	for _, table := range []string{"1abc", ".x", "_x"} { // nft's rule for the first byte
		c := connCase{name: "nft set " + table, backend: "nft", flags: []string{"--", table}}
		if table[0] == '1' {
			c.exit, c.err = exitFailure, "nft takes a set name that starts with a letter, '_' or '.'"
		} else {
			c.run = []string{"P add element inet iblock " + table + " { 127.0.0.1 }"}
		}
		cases = append(cases, c)
	}
	checkAll(t, cases)
}

func TestLogLinesCarryDaemonFacilityTagAndPid(t *testing.T) {
	t.Parallel()
	c := connCase{run: []string{"P -t iblocked -T add 127.0.0.1", "P -k 127.0.0.1"}}.check(t)
	// The listener only files lines of the form <pri>iblock[pid]: msg under their pid.
	if len(c.Logs) != 1 || c.Logs[0] != (testkit.LogLine{Pri: 3<<3 | 5, Msg: "blocking 127.0.0.1"}) {
		t.Errorf("log of pid %d: %v, want one daemon.notice line", c.Pid, c.Logs)
	}
}

func TestStdinThatIsNotAConnectionIsRefused(t *testing.T) {
	t.Parallel()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	defer pw.Close()
	listening := testkit.ListeningSocket(t)
	for _, tc := range []struct {
		name  string
		stdin *os.File
		exit  int
		want  string
	}{
		{"devnull", devnull, exitFailure, "standard input is not a socket"},
		{"pipe", pr, exitFailure, "standard input is not a socket"},
		{"unix socket", testkit.UnixSocketPair(t), exitNotInet, "peer is neither IPv4 nor IPv6"},
		{"wait service", listening, exitFailure, "standard input is a listening socket, not a connection: " +
			"inetd.conf must start iblock as a nowait service, not wait"},
	} {
		fk := testkit.NewFakeDir(t)
		stderr, _ := os.Create(filepath.Join(fk.Dir, "stderr"))
		c := testkit.RunWithStdio(t, testkit.Iblock(t), fk, tc.stdin, stderr, "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.Path("pfctl"))
		stderr.Close()
		c.WantExit(t, tc.exit)
		c.WantArgv(t)
		wantOneError(t, c, tc.want)
		// Run by hand, with stderr a file rather than the socket, iblock says why there too.
		if said, _ := os.ReadFile(stderr.Name()); !strings.Contains(string(said), "iblock: "+tc.want) {
			t.Errorf("%s: stderr %q", tc.name, said)
		}
	}
}

func TestSocketInheritedOnFd3NeverReachesPrograms(t *testing.T) {
	t.Parallel()
	fk := testkit.NewFakeDir(t)
	fk.ExtraFiles = []*os.File{testkit.UnixSocketPair(t)} // as systemd passes the connection on fd 3
	c := testkit.RunInetd(t, testkit.Iblock(t), fk, testkit.Loopback4, "-w", "/dev/null", "-b", "nft", "-d", "none", "-c", fk.Path("nft"))
	c.WantExit(t, exitOK)
	if len(c.Calls) != 1 {
		t.Fatalf("ran %d commands", len(c.Calls))
	} // fk.calls fails the test if the fake saw a socket on any fd
}
