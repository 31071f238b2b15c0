package main

// On a router or a container host, the Linux setups trap and ban only
// connections to the host's own addresses: a client whose connection to
// a trap port's number elsewhere passes through the host is neither
// redirected nor banned. A scanner banned for long is dropped on
// forwarded traffic too, which keeps it away from the networks behind the
// host; a short ban, which a forged SYN can make, drops only traffic to
// the host, so that a forger cannot cut those networks off from anyone.

import (
	"strings"
	"testing"
)

// forwardingSetups are every Linux setup shipped, with iblock behind
// inetd on the server namespace: the kernel-side rulesets, and the ones
// for iblock alone, with nft and with ipset.
var forwardingSetups = []linuxSetup{
	{"kernel-side nft", func(n *testNet, _ string) { kernelSetups[0].start(n, "") }, kernelSetups[0].banLength},
	{"kernel-side ipset", func(n *testNet, _ string) { kernelSetups[1].start(n, "") }, kernelSetups[1].banLength},
	{"iblock behind inetd, nft", func(n *testNet, _ string) { n.loadNftExample(); n.startInetd(""); n.serve() },
		func(n *testNet, addr string) string {
			return iblockBanned(n.nftHas(familySet("iblocked", strings.Contains(addr, ":")), addr))
		}},
	{"iblock behind inetd, ipset", func(n *testNet, _ string) { n.loadIpsetExample(); n.startInetd(" -b ipset"); n.serve() },
		func(n *testNet, addr string) string {
			return iblockBanned(kernelSetups[1].has(n, familySet("iblocked", strings.Contains(addr, ":")), addr))
		}},
}

func iblockBanned(banned bool) string {
	if banned {
		return "10d"
	}
	return ""
}

// TestForwardedConnectionsToTrapPortsAreNeitherRedirectedNorBanned puts a
// LAN behind the server namespace, then containers on a bridge: hosts
// behind it reach 5432 and 23 outside, the outside reaches them there,
// nobody is banned; a scanner that touches the server's own trap port is
// banned and then cut off from the hosts behind it too. IPv4 and IPv6,
// every setup.
func TestForwardedConnectionsToTrapPortsAreNeitherRedirectedNorBanned(t *testing.T) {
	slow(t)
	for _, setup := range forwardingSetups {
		for _, bridge := range []bool{false, true} {
			name := setup.name + map[bool]string{false: ", router", true: ", bridge"}[bridge]
			t.Run(name, func(t *testing.T) {
				n := newTestNet(t)
				hosts := n.addInside(bridge)
				setup.start(n, "")
				serveIn(t, n.scanner, "5432", trapPort)
				for _, h := range hosts {
					serveIn(t, h.ns, "5432", trapPort)
				}
				for _, f := range families {
					v6 := f.name == "IPv6"
					for _, h := range hosts {
						inside := map[bool]string{false: h.addr4, true: h.addr6}[v6]
						n.wantForwardedUntouched(t, setup, h.ns, inside, f.bystander)
					}
					n.wantShortBanLocal(t, setup, f, hosts[0])
					n.touchTrap(f.scanner, f.server)
					if got := setup.banned(n, f.scanner); got == "" {
						t.Errorf("%s touched the host's own trap port and was not banned", f.scanner)
					}
					inside := map[bool]string{false: hosts[0].addr4, true: hosts[0].addr6}[v6]
					if greetedFrom(n.scanner, f.scanner, inside, "5432") {
						t.Errorf("the banned %s still reaches %s through the host", f.scanner, inside)
					}
				}
			})
		}
	}
}

// wantForwardedUntouched connects from an inside host to the outside and
// back, on 5432 and the trap port: each connection reaches its service,
// and neither end is banned.
func (n *testNet) wantForwardedUntouched(t *testing.T, setup linuxSetup, ns, inside, outside string) {
	t.Helper()
	for _, port := range []string{"5432", trapPort} {
		if !greetedFrom(ns, inside, outside, port) {
			t.Errorf("%s does not reach the service on %s port %s through the host", inside, outside, port)
		}
		if !greetedFrom(n.scanner, outside, inside, port) {
			t.Errorf("%s does not reach the service on %s port %s through the host", outside, inside, port)
		}
	}
	for _, addr := range []string{inside, outside} {
		if got := setup.banned(n, addr); got != "" {
			t.Errorf("forwarded connections banned %s: %s", addr, got)
		}
	}
}

// wantShortBanLocal forges a SYN in the outside bystander's name to the
// host's trap port: where that bans for an hour, the bystander loses the
// host's own service and still reaches the inside host, both ways.
func (n *testNet) wantShortBanLocal(t *testing.T, setup linuxSetup, f family, h insideHost) {
	t.Helper()
	n.sendSYNs(t, f.server, 23, f.bystander)
	if !eventually(dropWait, func() bool { return setup.banned(n, f.bystander) == "1h" }) {
		return // iblock alone: a SYN bans nobody
	}
	inside := map[bool]string{false: h.addr4, true: h.addr6}[f.name == "IPv6"]
	if n.reachesService(f.bystander, f.server) {
		t.Errorf("the short-banned %s still reaches the host's own service", f.bystander)
	}
	if !greetedFrom(n.scanner, f.bystander, inside, "5432") || !greetedFrom(h.ns, inside, f.bystander, "5432") {
		t.Errorf("the short-banned %s and %s no longer reach each other through the host", f.bystander, inside)
	}
}
