package main

// The kernel-side ruleset, examples/linux/iblock.nft: the kernel bans on
// the first SYN to a trap port, briefly, and for ten days once the source
// completes a handshake there; the allow set is never banned.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Addresses the kernel-side tests forge: one the allow set holds, and one
// of a real host of the scanner namespace that never sent a packet itself.
const (
	allowlisted4 = "203.0.113.7"
	allowlisted6 = "2001:db8:ffff::7"
	victim4      = "192.0.2.30"
	victim6      = "2001:db8:0:2::30"
)

// loadKernelNft loads examples/linux/iblock.nft, unchanged.
func (n *testNet) loadKernelNft() {
	n.t.Helper()
	n.mustRun(needTool(n.t, "nft"), "-f", "examples/linux/iblock.nft")
}

// addVictims gives the scanner namespace the victims' addresses, so that
// they answer the server's SYN-ACKs to forged SYNs with a reset, as a
// real host does.
func (n *testNet) addVictims() {
	n.t.Helper()
	n.ipBatch(n.scanner, "addr add "+victim4+"/24 dev veth0", "addr add "+victim6+"/48 dev veth0 nodad")
	n.ipBatch(n.server, "neigh add "+victim6+" lladdr "+n.scannerMAC+" dev veth0 nud permanent")
}

// nftHas reports whether an nft set of table inet iblock holds addr.
func (n *testNet) nftHas(set, addr string) bool {
	_, ok := n.nftElement(set, addr)
	return ok
}

// nftElement returns addr's element of an nft set, with its expiry.
func (n *testNet) nftElement(set, addr string) (string, bool) {
	for _, e := range n.nftSet(set) {
		if strings.Fields(e)[0] == addr {
			return e, true
		}
	}
	return "", false
}

var nftDuration = regexp.MustCompile(`(\d+)(ms|d|h|m|s)`)

// nftExpiry reads what nft shows after "expires", e.g. 9d23h59m58s120ms.
func nftExpiry(t *testing.T, elem string) time.Duration {
	t.Helper()
	_, after, ok := strings.Cut(elem, "expires ")
	if !ok {
		t.Fatalf("element %q has no expiry", elem)
	}
	units := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second, "ms": time.Millisecond}
	var d time.Duration
	for _, m := range nftDuration.FindAllStringSubmatch(strings.Fields(after)[0], -1) {
		v, _ := strconv.Atoi(m[1])
		d += time.Duration(v) * units[m[2]]
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
	expiry           func(*testing.T, string) time.Duration
}

var kernelSetups = []kernelSetup{
	{"nft", "", (*testNet).loadKernelNft, "allowed", "syn_banned", (*testNet).nftSet, nftExpiry},
	{"ipset", " -b ipset", (*testNet).loadKernelIpset, "iblock_allow", "iblock_syn", (*testNet).ipsetSet, ipsetExpiry},
}

// start loads the ruleset, starts inetd with extra arguments for iblock
// and the service, and adds the allowlisted addresses to the allow sets at
// run time.
func (k kernelSetup) start(n *testNet, extra string) {
	n.t.Helper()
	k.load(n)
	for _, f := range kernelFamilies {
		k.allow(n, f.allowlisted)
	}
	n.startInetd(k.inetdExtra + extra)
	n.serve()
}

// allow adds an address to the allow set of its family.
func (k kernelSetup) allow(n *testNet, addr string) {
	n.t.Helper()
	set := familySet(k.allowSet, strings.Contains(addr, ":"))
	if k.name == "nft" {
		n.mustRun("nft", "add", "element", "inet", "iblock", set, "{ "+addr+" }")
	} else {
		n.mustRun("ipset", "add", set, addr)
	}
}

// element returns addr's element of a set, with its timeout.
func (k kernelSetup) element(n *testNet, set, addr string) (string, bool) {
	for _, e := range k.list(n, set) {
		if strings.Fields(e)[0] == addr {
			return e, true
		}
	}
	return "", false
}

func (k kernelSetup) has(n *testNet, set, addr string) bool {
	_, ok := k.element(n, set, addr)
	return ok
}

// ipsetExpiry reads the seconds ipset shows after "timeout".
func ipsetExpiry(t *testing.T, elem string) time.Duration {
	t.Helper()
	f := strings.Fields(elem)
	if len(f) < 3 || f[1] != "timeout" {
		t.Fatalf("member %q has no timeout", elem)
	}
	s, _ := strconv.Atoi(f[2])
	return time.Duration(s) * time.Second
}

type kernelFamily struct {
	family
	allowlisted, victim string
}

var kernelFamilies = []kernelFamily{
	{families[0], allowlisted4, victim4},
	{families[1], allowlisted6, victim6},
}

// TestKernelSideBansForgedSYNsShortlyAndHandshakesForTenDays forges SYNs
// from an allowlisted address and from a real host: the first is never
// banned, the second only for an hour, until it completes a handshake with
// the trap itself. A real scanner's connection bans it for ten days. Each
// new ban is one kernel log line. For the nft and the iptables rulesets.
func TestKernelSideBansForgedSYNsShortlyAndHandshakesForTenDays(t *testing.T) {
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			kmsg := followKmsg(t)
			n := newTestNet(t)
			n.addVictims()
			k.start(n, "")
			for _, f := range kernelFamilies {
				t.Run(f.name, func(t *testing.T) { k.wantForgeryBounded(t, n, kmsg, f) })
			}
		})
	}
}

func (k kernelSetup) wantForgeryBounded(t *testing.T, n *testNet, kmsg *kmsgFollower, f kernelFamily) {
	short := familySet(k.short, f.name == "IPv6")
	n.sendSYNs(t, f.server, 23, f.allowlisted, f.victim)
	line := kmsg.waitLine(t, "iblock-syn: ", n.kmsgMAC(), kmsgSrc(f.victim))
	if !strings.Contains(line, "IN=veth0 ") || !strings.Contains(line, "DPT=23 ") {
		t.Errorf("kernel log line %q lacks IN=veth0 or DPT=23", line)
	}
	elem, _ := k.element(n, short, f.victim)
	d := k.expiry(t, elem)
	report(t, "a forged SYN bans %s for %v", f.victim, d.Round(time.Second))
	if d > time.Hour || d < 50*time.Minute {
		t.Errorf("a bare SYN bans for %v, want an hour", d)
	}
	n.wantReach(f.server, map[string]bool{f.victim: false, f.bystander: true})
	// The victim's reset of the SYN-ACK it never asked for proves
	// nothing: it is still banned only briefly.
	if k.has(n, f.set, f.victim) {
		t.Errorf("a forged SYN banned %s for long", f.victim)
	}
	n.touchTrap(f.victim, f.server)
	kmsg.waitLine(t, "iblock-ban: ", n.kmsgMAC(), kmsgSrc(f.victim))
	elem, _ = k.element(n, f.set, f.victim)
	d = k.expiry(t, elem)
	report(t, "a completed handshake bans %s for %v", f.victim, d.Round(time.Second))
	if d < 9*24*time.Hour {
		t.Errorf("the ban after a handshake lasts %v, want about 10 days", d)
	}
	n.touchTrap(f.scanner, f.server)
	report(t, "kernel log: %s", kmsg.waitLine(t, "iblock-ban: ", n.kmsgMAC(), kmsgSrc(f.scanner)))
	n.wantReach(f.server, map[string]bool{f.scanner: false, f.bystander: true})
	for _, addr := range []string{f.victim, f.scanner} {
		for _, prefix := range []string{"iblock-syn: ", "iblock-ban: "} {
			if got := kmsg.lines(prefix, n.kmsgMAC(), kmsgSrc(addr)); len(got) != 1 {
				t.Errorf("%d kernel log lines %s… for %s, want 1: %q", len(got), prefix, addr, got)
			}
		}
	}
	for _, set := range []string{short, f.set} {
		if k.has(n, set, f.allowlisted) || len(kmsg.lines("iblock-", n.kmsgMAC(), kmsgSrc(f.allowlisted))) > 0 {
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
			kmsg := followKmsg(t)
			n := newTestNet(t)
			k.start(n, "")
			srcs := make([]string, burstSize)
			for i := range srcs {
				srcs[i] = burstAddress(i + 1)
			}
			start := time.Now()
			n.sendSYNs(t, server4, 23, srcs...)
			var bans map[string]bool
			waitUntil(t, 10*time.Second, "the burst's bans", func() bool {
				bans = map[string]bool{}
				for _, e := range k.list(n, k.short) {
					bans[strings.Fields(e)[0]] = true
				}
				return len(bans) >= burstSize
			})
			took := time.Since(start)
			waitUntil(t, 10*time.Second, "the burst's kernel log lines", func() bool {
				return len(kmsg.lines("iblock-syn: ", n.kmsgMAC(), "SRC=198.18.")) >= burstSize
			})
			report(t, "%d SYN scanners: %d bans in %v, %d kernel log lines", burstSize, len(bans),
				took.Round(time.Millisecond), len(kmsg.lines("iblock-syn: ", n.kmsgMAC(), "SRC=198.18.")))
			for _, src := range srcs {
				if lines := kmsg.lines("iblock-syn: ", n.kmsgMAC(), kmsgSrc(src)); !bans[src] || len(lines) != 1 {
					t.Errorf("%s: banned %v, %d kernel log lines", src, bans[src], len(lines))
				}
			}
			if len(bans) != burstSize {
				t.Errorf("%d bans, want %d", len(bans), burstSize)
			}
		})
	}
}
