package netns

// End-to-end tests on Linux: the examples of examples/linux loaded for real
// in network namespaces, a scanner banned, a bystander not.

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// TestInetdExamplesBanTheScannerAndNobodyElse runs openbsd-inetd with the
// example lines, once with the nftables ruleset and once with the ipset and
// iptables rules.
func TestInetdExamplesBanTheScannerAndNobodyElse(t *testing.T) {
	for _, fw := range []struct {
		name, extra string
		load        func(*testNet)
		list        func(*testNet, string) []string
	}{
		{"nft", "", (*testNet).LoadNftExample, (*testNet).NftSet},
		{"ipset", " -b ipset", (*testNet).LoadIpsetExample, (*testNet).IpsetSet},
	} {
		t.Run(fw.name, func(t *testing.T) {
			n := newTestNet(t)
			fw.load(n)
			n.StartInetd(fw.extra)
			n.Serve()
			for _, f := range testkit.Families {
				elements := func(set string) []string { return fw.list(n, set) }
				n.WantScannerBannedAlone(f, elements, "openbsd-inetd and "+fw.name)
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
	setpriv := testkit.NeedTool(t, "setpriv")
	if caps := testkit.UnitSettings(t, "linux/iblock@.service")["AmbientCapabilities"]; caps != "CAP_NET_ADMIN" {
		t.Fatalf("iblock@.service gives %q", caps)
	}
	n.LoadNftExample()
	n.StartSocketActivate(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
		"--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin")
	n.Serve()
	for _, f := range testkit.Families {
		n.WantScannerBannedAlone(f, n.NftSet, "systemd-socket-activate and nft")
	}
}

// TestSixtyFourBitPrefixBansTheScannersNeighbour runs iblock -6 64 with
// the ruleset's v6_mask set to /64, as the README says: iblock adds the
// network's address, and the drop looks sources up masked. A scanner in
// the server's own /64 gets its address alone banned: the /64 would cover
// the server.
func TestSixtyFourBitPrefixBansTheScannersNeighbour(t *testing.T) {
	const scanner, neighbour = "2001:db8:0:9::10", "2001:db8:0:9::11"
	for _, fw := range []struct {
		name, extra string
		load        func(*testNet)
		list        func(*testNet, string) []string
		want        string
	}{
		{"nft", " -6 64", func(n *testNet) { n.LoadNftEdited("iblock-only.nft", mask64) }, (*testNet).NftSet, "2001:db8:0:9::"},
		{"ipset", " -b ipset -6 64", (*testNet).LoadIpsetExample, (*testNet).IpsetSet, "2001:db8:0:9::/64"},
	} {
		t.Run(fw.name, func(t *testing.T) {
			n := newTestNet(t)
			fw.load(n)
			n.StartInetd(fw.extra)
			n.Serve()
			for _, a := range []string{scanner, neighbour} {
				n.IPBatch(n.Scanner, "addr add "+a+"/48 dev veth0 nodad")
				n.IPBatch(n.Server, "neigh add "+a+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent")
			}
			took := n.TouchTrap(scanner, testkit.Server6)
			testkit.Report(t, "time to block an IPv6 /64: %v", took.Round(100*time.Microsecond))
			testkit.WantElements(t, "iblocked6", fw.list(n, "iblocked6"), fw.want)
			n.WantReach(testkit.Server6, map[string]bool{scanner: false, neighbour: false, testkit.Bystander6: true})
			// In the server's own /64: the address alone.
			n.TouchTrap(testkit.Scanner6, testkit.Server6)
			both := fw.list(n, "iblocked6")
			sort.Strings(both)
			testkit.WantElements(t, "iblocked6", both, fw.want, testkit.Scanner6)
			n.WantReach(testkit.Server6, map[string]bool{testkit.Scanner6: false, testkit.Neighbour6: true})
		})
	}
}

// mask64 is the definition that makes a ruleset ban IPv6 /64s.
const mask64 = "define v6_mask = ffff:ffff:ffff:ffff::"

func TestAllowlistedAddressIsNeverBanned(t *testing.T) {
	n := newTestNet(t)
	n.LoadNftExample()
	allow := filepath.Join(t.TempDir(), "allow")
	os.WriteFile(allow, []byte("# the office\n"+testkit.Bystander4+"\n"+testkit.Bystander6+"/64\n"), 0o644)
	n.StartInetd(" -w " + allow)
	n.Serve()
	for _, f := range testkit.Families {
		n.TouchTrap(f.Bystander, f.Server)
		took := n.TouchTrap(f.Scanner, f.Server)
		testkit.WantElements(t, f.Set, n.NftSet(f.Set), f.Scanner)
		testkit.Report(t, "time to block an %s scanner beside an allowlisted address: %v", f.Name, took.Round(100*time.Microsecond))
		n.WantReach(f.Server, map[string]bool{f.Bystander: true, f.Scanner: false})
	}
	testkit.Log(t).Sync(t)
	for _, addr := range []string{testkit.Bystander4, testkit.Bystander6} {
		if testkit.Log(t).Count("not blocking "+addr+": allowlisted") == 0 {
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
		{"nft", "", "/usr/sbin/nft add element inet iblock iblocked { " + testkit.Scanner4 + " }: exit status 1: ",
			"; set iblocked is missing from table inet iblock, create it with: "},
		{"ipset", " -b ipset", "/usr/sbin/ipset add iblocked " + testkit.Scanner4 + " -exist: exit status 1: ",
			"; set iblocked is missing, create it with: "},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			testkit.NeedTool(t, tc.backend)
			if _, err := os.Stat("/usr/sbin/" + tc.backend); err != nil {
				testkit.SkipOrFail(t, "iblock runs /usr/sbin/"+tc.backend+": "+err.Error())
			}
			n := newTestNet(t)
			n.StartInetd(tc.extra)
			n.TouchPort(testkit.Scanner4, testkit.Server4, testkit.IblockPort) // no ruleset, no redirection
			testkit.Log(t).Sync(t)
			var create string
			for _, l := range testkit.Log(t).Matching(tc.command) {
				if _, after, ok := strings.Cut(l.Msg, tc.hint); ok {
					create = after
				}
			}
			if create == "" {
				t.Fatalf("no log line says %q…%q; the log has: %v", tc.command, tc.hint, testkit.Log(t).Matching(testkit.Scanner4+" "))
			}
			n.MustRun("/bin/sh", "-c", create)
			took := n.TouchPort(testkit.Bystander4, testkit.Server4, testkit.IblockPort)
			testkit.Report(t, "time to block once the set exists: %v", took.Round(100*time.Microsecond))
			if tc.backend == "nft" {
				testkit.WantElements(t, "iblocked", n.NftSet("iblocked"), testkit.Bystander4)
			} else {
				testkit.WantElements(t, "iblocked", n.IpsetSet("iblocked"), testkit.Bystander4)
			}
		})
	}
}
