package netns

// The kernel-side ruleset, examples/linux/iblock.nft: the kernel bans on
// the first SYN to a trap port, briefly, and for ten days once the source
// completes a handshake there; the allow set is never banned.

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// addVictims gives the scanner namespace the victims' addresses, so that
// they answer the server's SYN-ACKs to forged SYNs with a reset, as a
// real host does.
func (n *testNet) addVictims() {
	n.T.Helper()
	n.IPBatch(n.Scanner, "addr add "+testkit.Victim4+"/24 dev veth0", "addr add "+testkit.Victim6+"/48 dev veth0 nodad")
	n.IPBatch(n.Server, "neigh add "+testkit.Victim6+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent")
}

// timeLeft is the time a set's element has left; it fails without one.
func timeLeft(t *testing.T, elem string) time.Duration {
	t.Helper()
	d, ok := testkit.TimeLeft(elem)
	if !ok {
		t.Fatalf("element %q has no expiry", elem)
	}
	return d
}

// kernelSetup is one shipped kernel-side ruleset, with the listener on
// iblock's port that completes the handshakes (openbsd-inetd and iblock).
type kernelSetup struct {
	name, inetdExtra string
	load             func(*testNet)
	allowSet, short  string // IPv4 names; IPv6 adds "6"
	list             func(*testNet, string) []string
	tools            []string // the programs that load it
}

var kernelSetups = []kernelSetup{
	{"nft", "", (*testNet).LoadKernelNft, "allowed", "syn_banned", (*testNet).NftSet, []string{"nft"}},
	{"ipset", " -b ipset", (*testNet).LoadKernelIpset, "iblock_allow", "iblock_syn", (*testNet).IpsetSet,
		[]string{"ipset", "iptables-restore", "ip6tables-restore"}},
}

// needTools skips the test unless the programs that load k are installed:
// before it reads the kernel log, which changes the host (FollowKmsg).
func (k kernelSetup) needTools(t *testing.T) {
	t.Helper()
	for _, tool := range k.tools {
		testkit.NeedTool(t, tool)
	}
}

// start loads the ruleset, starts inetd with extra arguments for iblock
// and the service, and adds the allowlisted addresses to the allow sets at
// run time.
func (k kernelSetup) Start(n *testNet, extra string) {
	n.T.Helper()
	k.load(n)
	for _, f := range kernelFamilies {
		k.allow(n, f.allowlisted)
	}
	n.StartInetd(k.inetdExtra + extra)
	n.Serve()
}

// eachKernelSetup runs test in a subtest for each kernel-side setup, with
// a new test net, nothing loaded yet, and the kernel log read from before.
func eachKernelSetup(t *testing.T, test func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg)) {
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			n := newTestNet(t)
			k.needTools(t)
			test(t, k, n, testkit.FollowKmsg(t))
		})
	}
}

// startWithListener loads the ruleset with, on iblock's port, a listener
// bound to the wildcard address that accepts and closes, as the trap does
// once it has banned: the kernel alone bans.
func (k kernelSetup) startWithListener(n *testNet) {
	n.T.Helper()
	k.load(n)
	n.ListenAndClose(":" + testkit.IblockPort)
}

// allow adds an address to the allow set of its family.
func (k kernelSetup) allow(n *testNet, addr string) {
	n.T.Helper()
	set := testkit.SetName(k.allowSet, strings.Contains(addr, ":"))
	if k.name == "nft" {
		n.MustRun("nft", "add", "element", "inet", "iblock", set, "{ "+addr+" }")
	} else {
		n.MustRun("ipset", "add", set, addr)
	}
}

// element returns addr's element of a set, with its timeout: in the
// IPv6 short-ban set, the element of addr's /64.
func (k kernelSetup) element(n *testNet, set, addr string) (string, bool) {
	if set == testkit.SetName(k.short, true) {
		addr = shortBanOf(addr)
	}
	for _, e := range k.list(n, set) {
		if strings.Fields(e)[0] == addr {
			return e, true
		}
	}
	return "", false
}

// shortBanOf is what the short-ban sets hold for addr: the address, or
// for IPv6 its /64, as the rulesets mask it.
func shortBanOf(addr string) string {
	a := netip.MustParseAddr(addr)
	if a.Is4() {
		return addr
	}
	return netip.PrefixFrom(a, 64).Masked().Addr().String()
}

func (k kernelSetup) has(n *testNet, set, addr string) bool {
	_, ok := k.element(n, set, addr)
	return ok
}

type kernelFamily struct {
	testkit.Family
	allowlisted, victim string
}

var kernelFamilies = []kernelFamily{
	{testkit.Families[0], testkit.Allowlisted4, testkit.Victim4},
	{testkit.Families[1], testkit.Allowlisted6, testkit.Victim6},
}

// TestKernelSideBansForgedSYNsShortlyAndHandshakesForTenDays forges SYNs
// from an allowlisted address and from a real host: the first is never
// banned, the second only for an hour, until it completes a handshake with
// the trap itself. A real scanner's connection, reset at once as nmap -sT
// does, bans it for ten days. Each new ban is one kernel log line. For the
// nft and the iptables rulesets.
func TestKernelSideBansForgedSYNsShortlyAndHandshakesForTenDays(t *testing.T) {
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			n := newTestNet(t)
			k.needTools(t)
			kmsg := testkit.FollowKmsg(t)
			n.addVictims()
			k.Start(n, "")
			for _, f := range kernelFamilies {
				t.Run(f.Name, func(t *testing.T) { k.wantForgeryBounded(t, n, kmsg, f) })
			}
		})
	}
}

func (k kernelSetup) wantForgeryBounded(t *testing.T, n *testNet, kmsg *testkit.Kmsg, f kernelFamily) {
	short := testkit.SetName(k.short, f.Name == "IPv6")
	n.SendSYNs(t, f.Server, 23, f.allowlisted, f.victim)
	line := kmsg.WaitLine(t, "iblock-syn: ", n.KmsgMAC(), testkit.KmsgSrc(f.victim))
	if !strings.Contains(line, "IN=veth0 ") || !strings.Contains(line, "DPT=23 ") {
		t.Errorf("kernel log line %q lacks IN=veth0 or DPT=23", line)
	}
	elem, _ := k.element(n, short, f.victim)
	d := timeLeft(t, elem)
	testkit.Report(t, "a forged SYN bans %s for %v", f.victim, d.Round(time.Second))
	if d > time.Hour || d < 50*time.Minute {
		t.Errorf("a bare SYN bans for %v, want an hour", d)
	}
	n.WantReach(f.Server, map[string]bool{f.victim: false, f.Bystander: true})
	// The victim's reset of the SYN-ACK it never asked for proves
	// nothing: it is still banned only briefly.
	if k.has(n, f.Set, f.victim) {
		t.Errorf("a forged SYN banned %s for long", f.victim)
	}
	// A handshake the victim completes and closes: the kernel bans at
	// its FIN, which finds the established socket.
	n.ConnectThenClose(t, f.victim, f.Server, false)
	kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(f.victim))
	elem, _ = k.element(n, f.Set, f.victim)
	d = timeLeft(t, elem)
	testkit.Report(t, "a completed handshake bans %s for %v", f.victim, d.Round(time.Second))
	if d < 9*24*time.Hour {
		t.Errorf("the ban after a handshake lasts %v, want about 10 days", d)
	}
	n.ConnectThenClose(t, f.Scanner, f.Server, true)
	testkit.Report(t, "kernel log: %s", kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(f.Scanner)))
	n.WantReach(f.Server, map[string]bool{f.Scanner: false, f.Bystander: true})
	for _, addr := range []string{f.victim, f.Scanner} {
		for _, prefix := range []string{"iblock-syn: ", "iblock-ban: "} {
			if got := kmsg.Lines(prefix, n.KmsgMAC(), testkit.KmsgSrc(addr)); len(got) != 1 {
				t.Errorf("%d kernel log lines %s… for %s, want 1: %q", len(got), prefix, addr, got)
			}
		}
	}
	for _, set := range []string{short, f.Set} {
		if k.has(n, set, f.allowlisted) || len(kmsg.Lines("iblock-", n.KmsgMAC(), testkit.KmsgSrc(f.allowlisted))) > 0 {
			t.Errorf("the allowlisted %s was banned or logged", f.allowlisted)
		}
	}
}

// TestKernelSideBurstOfAThousandSYNScannersLeavesAThousandBans sends one
// SYN from each of 1000 addresses at once: each is banned, and logged,
// exactly once.
func TestKernelSideBurstOfAThousandSYNScannersLeavesAThousandBans(t *testing.T) {
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			n := newTestNet(t)
			k.needTools(t)
			kmsg := testkit.FollowKmsg(t)
			k.Start(n, "")
			srcs := make([]string, testkit.BurstSize)
			for i := range srcs {
				srcs[i] = testkit.BurstAddress(i + 1)
			}
			start := time.Now()
			n.SendSYNs(t, testkit.Server4, 23, srcs...)
			var bans map[string]bool
			testkit.WaitUntil(t, 10*time.Second, "the burst's bans", func() bool {
				bans = map[string]bool{}
				for _, e := range k.list(n, k.short) {
					bans[strings.Fields(e)[0]] = true
				}
				return len(bans) >= testkit.BurstSize
			})
			took := time.Since(start)
			testkit.WaitUntil(t, 10*time.Second, "the burst's kernel log lines", func() bool {
				return len(kmsg.Lines("iblock-syn: ", n.KmsgMAC(), "SRC=198.18.")) >= testkit.BurstSize
			})
			testkit.Report(t, "%d SYN scanners: %d bans in %v, %d kernel log lines", testkit.BurstSize, len(bans),
				took.Round(time.Millisecond), len(kmsg.Lines("iblock-syn: ", n.KmsgMAC(), "SRC=198.18.")))
			for _, src := range srcs {
				if lines := kmsg.Lines("iblock-syn: ", n.KmsgMAC(), testkit.KmsgSrc(src)); !bans[src] || len(lines) != 1 {
					t.Errorf("%s: banned %v, %d kernel log lines", src, bans[src], len(lines))
				}
			}
			if len(bans) != testkit.BurstSize {
				t.Errorf("%d bans, want %d", len(bans), testkit.BurstSize)
			}
		})
	}
}
