package main

// Checks of the blocklistd examples of examples/netbsd and
// examples/freebsd. blocklistd, npfctl and FreeBSD's pfctl cannot run
// here: blocklistd.conf is read as blocklistd's conf.c reads it, iblock's
// arguments go through its own parser, and the helpers run under sh with
// stand-ins for npfctl, pfctl and the stock helper.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// blConfLine is one line of blocklistd.conf's [local] section.
type blConfLine struct {
	port, typ, proto, owner, name, nfail string
	duration                             int // seconds
}

func blocklistdConf(t *testing.T, name string) []blConfLine {
	t.Helper()
	var lines []blConfLine
	section := ""
	for _, line := range testkit.ExampleLines(t, name) {
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		f := strings.Fields(line)
		if section != "[local]" || len(f) != 7 {
			t.Fatalf("%s: not a line of the [local] section: %q", name, line)
		}
		secs, err := blDuration(f[6])
		if err != nil {
			t.Fatalf("%s: %q: %v", name, line, err)
		}
		lines = append(lines, blConfLine{f[0], f[1], f[2], f[3], f[4], f[5], secs})
	}
	return lines
}

// blDuration reads a duration as blocklistd does: a number of seconds, or
// numbers each followed by d, h, m or s.
func blDuration(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	total := 0
	for s != "" {
		i := strings.IndexAny(s, "dhms")
		if i <= 0 {
			return 0, strconv.ErrSyntax
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		total += n * map[byte]int{'d': 86400, 'h': 3600, 'm': 60, 's': 1}[s[i]]
		s = s[i+1:]
	}
	return total, nil
}

// wantTrapLine fails the test unless a blocklistd.conf line blocks the
// first report on a trap port of either family, for ten days, under the
// rule the helpers handle.
func wantTrapLine(t *testing.T, l blConfLine) {
	t.Helper()
	if l.typ != "stream" || l.proto != "*" || l.owner != "*" || l.name != "iblock" || l.nfail != "1" || l.duration != 10*86400 {
		t.Errorf("port %s: %+v, want stream, both families (*), any owner, rule iblock, nfail 1, 10 days", l.port, l)
	}
}

func TestNetBSDBlocklistdExamplesReportEveryTrapPortWithoutPrivilege(t *testing.T) {
	confPorts := map[string]bool{}
	for _, l := range blocklistdConf(t, "netbsd/blocklistd.conf") {
		wantTrapLine(t, l)
		confPorts[l.port] = true
	}
	served := map[string][]string{}
	for _, l := range inetdLines(t, "netbsd/inetd.blocklistd.conf") {
		served[l.service] = append(served[l.service], l.proto)
		conf, err := parseArgs(l.args, "netbsd")
		if err != nil || conf.backend != blocklistd || conf.program != defaultBlocklistdSocket || conf.helper != "" || l.user != "nobody" {
			t.Errorf("%s/%s: iblock %q as %s: %+v %v", l.service, l.proto, l.args, l.user, conf, err)
		}
	}
	for _, l := range inetdLines(t, "netbsd/inetd.conf") {
		if !confPorts[l.service] || strings.Join(served[l.service], " ") != "tcp tcp6" {
			t.Errorf("trap port %s: blocklistd.conf line %v, served with -b blocklistd for %v", l.service, confPorts[l.service], served[l.service])
		}
	}
	if len(served) != len(confPorts) {
		t.Errorf("inetd.blocklistd.conf serves %d ports, blocklistd.conf has %d", len(served), len(confPorts))
	}
	npf := strings.Join(testkit.ExampleLines(t, "netbsd/npf.conf"), "\n")
	if i := strings.Index(npf, `ruleset "iblock"`); i < 0 || i > strings.Index(npf, "pass") {
		t.Errorf(`npf.conf has no ruleset "iblock" before its pass rules`)
	}
}

func TestFreeBSDBlacklistdExamplesReportTheRedirectedPortWithoutPrivilege(t *testing.T) {
	lines := blocklistdConf(t, "freebsd/blacklistd.conf")
	if len(lines) != 1 || lines[0].port != "2507" {
		t.Fatalf("want one line, for the port pf.conf redirects to: %+v", lines)
	}
	wantTrapLine(t, lines[0])
	inetd := inetdLines(t, "freebsd/inetd.blacklistd.conf")
	if len(inetd) != 1 || inetd[0].proto != "tcp46" || inetd[0].user != "nobody" || inetd[0].service != "iblock" {
		t.Fatalf("want one tcp46 line for service iblock as nobody: %+v", inetd)
	}
	conf, err := parseArgs(inetd[0].args, "freebsd")
	if err != nil || conf.backend != blocklistd || conf.program != "/var/run/blacklistd.sock" || conf.helper != "" {
		t.Errorf("iblock %q: %+v %v, want blacklistd's socket and no doas", inetd[0].args, conf, err)
	}
	pf := strings.Join(testkit.ExampleLines(t, "freebsd/pf.conf"), "\n")
	if i := strings.Index(pf, `anchor "iblock"`); i < 0 || i > strings.Index(pf, "pass in quick") ||
		!strings.Contains(pf, "port 2507") {
		t.Errorf(`pf.conf has no anchor "iblock" before its pass rules, or no redirect to 2507`)
	}
}

// helperRun is one run of a BSD helper with stand-ins.
type helperRun struct {
	args []string
	out  string   // what blocklistd reads as the rule's id
	log  []string // the stand-ins' calls, and what pfctl -f read
}

// runBSDHelper runs an example helper under sh, its firewall program and
// the stock helper replaced by a stand-in that records its calls; pfctl
// -f's input is recorded too, and npfctl's add prints a rule id.
func runBSDHelper(t *testing.T, name, program, stock string, args ...string) helperRun {
	t.Helper()
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	stub := filepath.Join(dir, "stub")
	script := "#!/bin/sh\n" +
		"echo \"${0##*/} $*\" >>" + record + "\n" +
		"case \"$*\" in *' -f -') sed 's/^/stdin: /' >>" + record + ";; esac\n" +
		"case \"${0##*/} $*\" in 'npfctl rule '*' add '*) echo 2a;; stock*) echo OK;; esac\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{filepath.Base(program), "stock"} {
		if err := os.Symlink(stub, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	text := testkit.ReadExample(t, name)
	text = strings.ReplaceAll(text, "="+program+"\n", "="+filepath.Join(dir, filepath.Base(program))+"\n")
	text = strings.ReplaceAll(text, "="+stock+"\n", "="+filepath.Join(dir, "stock")+"\n")
	cmd := exec.Command("/bin/sh", append([]string{"-c", text, "helper"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	data, _ := os.ReadFile(record)
	return helperRun{args, strings.TrimSpace(string(out)), strings.Split(strings.TrimSpace(string(data)), "\n")}
}

func (r helperRun) want(t *testing.T, out string, log ...string) {
	t.Helper()
	if r.out != out || strings.Join(r.log, "\n") != strings.Join(log, "\n") {
		t.Errorf("helper %q printed %q and ran:\n  %s\nwant %q and:\n  %s", r.args, r.out,
			strings.Join(r.log, "\n  "), out, strings.Join(log, "\n  "))
	}
}

func TestNetBSDBlocklistdHelperBlocksTheWholeAddressInTheIblockRuleset(t *testing.T) {
	run := func(args ...string) helperRun {
		return runBSDHelper(t, "netbsd/blocklistd-helper", "/sbin/npfctl", "/libexec/blocklistd-helper", args...)
	}
	run("add", "iblock", "tcp", "::ffff:192.0.2.10", "128", "23").want(t, "2a",
		"npfctl rule iblock add block in final from 192.0.2.10/32")
	run("add", "iblock", "tcp", "2001:db8::10", "128", "23", "").want(t, "2a",
		"npfctl rule iblock add block in final from 2001:db8::10/128")
	run("rem", "iblock", "tcp", "2001:db8::10", "128", "23", "2a").want(t, "",
		"npfctl rule iblock rem-id 2a")
	run("flush", "iblock").want(t, "", "npfctl rule iblock flush")
	run("add", "blocklistd", "tcp", "192.0.2.10", "32", "22").want(t, "OK",
		"stock add blocklistd tcp 192.0.2.10 32 22")
}

func TestFreeBSDBlacklistdHelperBlocksTheWholeAddressInTheIblockAnchor(t *testing.T) {
	run := func(args ...string) helperRun {
		return runBSDHelper(t, "freebsd/blacklistd-helper", "/sbin/pfctl", "/usr/libexec/blacklistd-helper", args...)
	}
	run("add", "iblock", "tcp", "::ffff:192.0.2.10", "128", "2507").want(t, "OK",
		"pfctl -a iblock -s rules",
		"pfctl -a iblock -f -",
		"stdin: block in quick from <iblock> to any",
		"pfctl -q -a iblock -t iblock -T add 192.0.2.10/32",
		"pfctl -q -k 192.0.2.10")
	run("rem", "iblock", "tcp", "2001:db8::10", "128", "2507", "OK").want(t, "OK",
		"pfctl -q -a iblock -t iblock -T delete 2001:db8::10/128")
	run("flush", "iblock").want(t, "OK", "pfctl -q -a iblock -t iblock -T flush")
	run("add", "blacklistd", "tcp", "192.0.2.10", "32", "22").want(t, "OK",
		"stock add blacklistd tcp 192.0.2.10 32 22")
}
