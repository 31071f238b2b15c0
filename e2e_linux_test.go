package main

// End-to-end tests on Linux: the examples of examples/linux loaded for real
// in network namespaces, a scanner banned, a bystander not.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// loadNftExample loads examples/linux/iblock-only.nft, the ruleset for
// iblock alone, unchanged.
func (n *testNet) loadNftExample() {
	n.t.Helper()
	n.mustRun(needTool(n.t, "nft"), "-f", n.examplePath("iblock-only.nft"))
}

// loadNftEdited loads an example ruleset with each "define name = value"
// given replacing the file's definition of that name.
func (n *testNet) loadNftEdited(name string, defines ...string) {
	n.t.Helper()
	text := n.withRoom(n.t, exampleWithPaths(n.t, "linux/"+name))
	for _, d := range defines {
		key, _, _ := strings.Cut(d, "=")
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=.*$`)
		if !line.MatchString(text) {
			n.t.Fatalf("%s has no %s", name, key)
		}
		text = line.ReplaceAllLiteralString(text, d)
	}
	path := filepath.Join(n.t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.mustRun(needTool(n.t, "nft"), "-f", path)
}

// loadIpsetExample creates the sets and rules of the ipset examples for
// iblock alone: without their *mangle part, as their comment says.
func (n *testNet) loadIpsetExample() {
	n.t.Helper()
	n.loadIpsetRules(regexp.MustCompile(`(?s)\*mangle\n.*?\nCOMMIT\n`))
}

// loadKernelIpset creates the sets and rules of the ipset examples as
// shipped: the kernel bans.
func (n *testNet) loadKernelIpset() {
	n.t.Helper()
	n.loadIpsetRules(nil)
}

// loadIpsetRules loads ipset.conf, then the iptables and ip6tables rules
// with what leaveOut matches taken out of them.
func (n *testNet) loadIpsetRules(leaveOut *regexp.Regexp) {
	n.t.Helper()
	n.runInput(n.examplePath("ipset.conf"), needTool(n.t, "ipset"), "-exist", "restore")
	for tool, name := range map[string]string{"iptables-restore": "iptables.rules", "ip6tables-restore": "ip6tables.rules"} {
		rules := exampleWithPaths(n.t, "linux/"+name)
		if leaveOut != nil {
			if !leaveOut.MatchString(rules) {
				n.t.Fatalf("%s has no part to leave out", name)
			}
			rules = leaveOut.ReplaceAllString(rules, "")
		}
		n.runInput(writeTemp(n.t, name, rules), needTool(n.t, tool), "--noflush")
	}
}

// startInetd runs Debian's openbsd-inetd in the server namespace with the
// Linux example's lines, each given extra arguments.
func (n *testNet) startInetd(extra string) {
	n.t.Helper()
	n.startInetdEdited(func(line string) string { return line + extra })
}

// startInetdEdited runs openbsd-inetd with the Linux example's lines, the
// installed path of iblock replaced by the test's, and each line edited.
func (n *testNet) startInetdEdited(edit func(line string) string) {
	n.t.Helper()
	inetd := needTool(n.t, "inetd")
	var conf strings.Builder
	for _, line := range exampleLines(n.t, "linux/inetd.conf") {
		conf.WriteString(edit(strings.ReplaceAll(line, "/usr/local/bin/iblock", iblockBin)) + "\n")
	}
	path := filepath.Join(n.t.TempDir(), "inetd.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		n.t.Fatal(err)
	}
	n.start(inetd, "-d", path)
	n.waitListening(iblockPort)
}

// startSocketActivate runs the command line of iblock@.service, after the
// wrapper if any, under systemd-socket-activate on the socket of
// iblock.socket, which must be one dual-stack IPv6 socket. It returns the
// socket's settings.
func (n *testNet) startSocketActivate(wrapper ...string) map[string]string {
	n.t.Helper()
	activate := needTool(n.t, "systemd-socket-activate")
	socket := unitSettings(n.t, "linux/iblock.socket")
	service := unitSettings(n.t, "linux/iblock@.service")
	if socket["Accept"] != "yes" || service["StandardInput"] != "socket" {
		n.t.Fatalf("units: %v %v", socket, service)
	}
	argv := append([]string{activate, "--accept", "--inetd", "-l", socket["ListenStream"]}, wrapper...)
	argv = append(argv, strings.Fields(strings.ReplaceAll(service["ExecStart"], "/usr/local/bin/iblock", iblockBin))...)
	n.start(argv...)
	n.waitListening(iblockPort)
	if v4, v6 := n.listeners(iblockPort); v4 || !v6 {
		n.t.Fatalf("want one dual-stack IPv6 socket, got IPv4 %v, IPv6 %v", v4, v6)
	}
	return socket
}

// family is one address family's side of a test.
type family struct {
	name, server, scanner, bystander, set string
}

var families = []family{
	{"IPv4", server4, scanner4Addr, bystander4, "iblocked"},
	{"IPv6", server6, scanner6Addr, bystander6, "iblocked6"},
}

// wantScannerBannedAlone touches the trap from the family's scanner, then
// checks the set, that the scanner is dropped on the service port, that
// its connection opened before the ban is dropped too, and that the
// bystander still gets through.
func (n *testNet) wantScannerBannedAlone(f family, elements func(set string) []string, path string) {
	n.t.Helper()
	session := n.openSession(f.scanner, f.server)
	took := n.touchTrap(f.scanner, f.server)
	wantElements(n.t, f.set, elements(f.set), f.scanner)
	report(n.t, "time to block an %s scanner through %s: %v", f.name, path, took.Round(100*time.Microsecond))
	n.wantReach(f.server, map[string]bool{f.scanner: false, f.bystander: true})
	if sessionAlive(session) {
		n.t.Errorf("%s's connection opened before the ban still works", f.scanner)
	}
}

// TestInetdExamplesBanTheScannerAndNobodyElse runs openbsd-inetd with the
// example lines, once with the nftables ruleset and once with the ipset and
// iptables rules.
func TestInetdExamplesBanTheScannerAndNobodyElse(t *testing.T) {
	for _, fw := range []struct {
		name, extra string
		load        func(*testNet)
		list        func(*testNet, string) []string
	}{
		{"nft", "", (*testNet).loadNftExample, (*testNet).nftSet},
		{"ipset", " -b ipset", (*testNet).loadIpsetExample, (*testNet).ipsetSet},
	} {
		t.Run(fw.name, func(t *testing.T) {
			n := newTestNet(t)
			fw.load(n)
			n.startInetd(fw.extra)
			n.serve()
			for _, f := range families {
				elements := func(set string) []string { return fw.list(n, set) }
				n.wantScannerBannedAlone(f, elements, "openbsd-inetd and "+fw.name)
			}
		})
	}
}

// TestSystemdSocketBansMappedIPv4PeersAsIPv4 runs the units' command line
// under systemd-socket-activate on the unit's dual-stack socket, where IPv4
// peers arrive as ::ffff:a.b.c.d, and with what iblock@.service leaves it:
// an unprivileged user with CAP_NET_ADMIN alone.
func TestSystemdSocketBansMappedIPv4PeersAsIPv4(t *testing.T) {
	n := newTestNet(t)
	setpriv := needTool(t, "setpriv")
	if caps := unitSettings(t, "linux/iblock@.service")["AmbientCapabilities"]; caps != "CAP_NET_ADMIN" {
		t.Fatalf("iblock@.service gives %q", caps)
	}
	n.loadNftExample()
	n.startSocketActivate(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
		"--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin")
	n.serve()
	for _, f := range families {
		n.wantScannerBannedAlone(f, n.nftSet, "systemd-socket-activate and nft")
	}
}

// unitSettings reads the Key=Value lines of an example unit.
func unitSettings(t *testing.T, name string) map[string]string {
	t.Helper()
	settings := map[string]string{}
	for _, line := range exampleLines(t, name) {
		if k, v, ok := strings.Cut(line, "="); ok {
			settings[k] = v
		}
	}
	return settings
}

// TestSixtyFourBitPrefixBansTheScannersNeighbour runs iblock -6 64 with
// the ruleset's v6_mask set to /64, as the README says: iblock adds the
// network's address, and the drop looks sources up masked.
func TestSixtyFourBitPrefixBansTheScannersNeighbour(t *testing.T) {
	for _, fw := range []struct {
		name, extra string
		load        func(*testNet)
		list        func(*testNet, string) []string
		want        string
	}{
		{"nft", " -6 64", func(n *testNet) { n.loadNftEdited("iblock-only.nft", mask64) }, (*testNet).nftSet, "2001:db8::"},
		{"ipset", " -b ipset -6 64", (*testNet).loadIpsetExample, (*testNet).ipsetSet, "2001:db8::/64"},
	} {
		t.Run(fw.name, func(t *testing.T) {
			n := newTestNet(t)
			fw.load(n)
			n.startInetd(fw.extra)
			n.serve()
			took := n.touchTrap(scanner6Addr, server6)
			report(t, "time to block an IPv6 /64: %v", took.Round(100*time.Microsecond))
			wantElements(t, "iblocked6", fw.list(n, "iblocked6"), fw.want)
			n.wantReach(server6, map[string]bool{scanner6Addr: false, neighbour6: false, bystander6: true})
		})
	}
}

// mask64 is the definition that makes a ruleset ban IPv6 /64s.
const mask64 = "define v6_mask = ffff:ffff:ffff:ffff::"

func TestAllowlistedAddressIsNeverBanned(t *testing.T) {
	n := newTestNet(t)
	n.loadNftExample()
	allow := filepath.Join(t.TempDir(), "allow")
	os.WriteFile(allow, []byte("# the office\n"+bystander4+"\n"+bystander6+"/64\n"), 0o644)
	n.startInetd(" -w " + allow)
	n.serve()
	for _, f := range families {
		n.touchTrap(f.bystander, f.server)
		took := n.touchTrap(f.scanner, f.server)
		wantElements(t, f.set, n.nftSet(f.set), f.scanner)
		report(t, "time to block an %s scanner beside an allowlisted address: %v", f.name, took.Round(100*time.Microsecond))
		n.wantReach(f.server, map[string]bool{f.bystander: true, f.scanner: false})
	}
	testLog.sync(t)
	for _, addr := range []string{bystander4, bystander6} {
		if testLog.count("not blocking "+addr+": allowlisted") == 0 {
			t.Errorf("no log line says %s was allowlisted", addr)
		}
	}
}

// TestMissingSetIsNamedWithACommandThatCreatesIt runs nft and ipset for
// real with no set at all, then runs the command the log line gives, as an
// administrator would type it, and expects the next scanner banned. What
// the tools print before the hint may change with their versions.
func TestMissingSetIsNamedWithACommandThatCreatesIt(t *testing.T) {
	for _, tc := range []struct{ backend, extra, command, hint string }{
		{"nft", "", "/usr/sbin/nft add element inet iblock iblocked { " + scanner4Addr + " }: exit status 1: ",
			"; set iblocked is missing from table inet iblock, create it with: "},
		{"ipset", " -b ipset", "/usr/sbin/ipset add iblocked " + scanner4Addr + " -exist: exit status 1: ",
			"; set iblocked is missing, create it with: "},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			needTool(t, tc.backend)
			if _, err := os.Stat("/usr/sbin/" + tc.backend); err != nil {
				skipOrFail(t, "iblock runs /usr/sbin/"+tc.backend+": "+err.Error())
			}
			n := newTestNet(t)
			n.startInetd(tc.extra)
			n.touchPort(scanner4Addr, server4, iblockPort) // no ruleset, no redirection
			testLog.sync(t)
			var create string
			for _, l := range testLog.matching(tc.command) {
				if _, after, ok := strings.Cut(l.msg, tc.hint); ok {
					create = after
				}
			}
			if create == "" {
				t.Fatalf("no log line says %q…%q; the log has: %v", tc.command, tc.hint, testLog.matching(scanner4Addr+" "))
			}
			n.mustRun("/bin/sh", "-c", create)
			took := n.touchPort(bystander4, server4, iblockPort)
			report(t, "time to block once the set exists: %v", took.Round(100*time.Microsecond))
			if tc.backend == "nft" {
				wantElements(t, "iblocked", n.nftSet("iblocked"), bystander4)
			} else {
				wantElements(t, "iblocked", n.ipsetSet("iblocked"), bystander4)
			}
		})
	}
}
