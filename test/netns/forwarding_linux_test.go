package netns

// On a router or a container host, the Linux setups trap and ban only
// connections to the host's own addresses: a client whose connection to
// a trap port's number elsewhere passes through the host is neither
// redirected nor banned. A scanner banned for long is dropped on
// forwarded traffic too, which keeps it away from the networks behind the
// host; a short ban, which a forged SYN can make, drops only traffic to
// the host, so that a forger cannot cut those networks off from anyone.

import (
	"testing"

	"iblock/internal/testkit"
)

// forwardingSetups are every Linux setup shipped, with iblock behind
// inetd on the server namespace: the kernel-side rulesets, and the ones
// for iblock alone, with nft and with ipset.
var forwardingSetups = []linuxSetup{
	{"kernel-side nft", func(n *testNet, _ string) { kernelSetups[0].Start(n, "") }, kernelSetups[0].banLength},
	{"kernel-side ipset", func(n *testNet, _ string) { kernelSetups[1].Start(n, "") }, kernelSetups[1].banLength},
	{"iblock behind inetd, nft", func(n *testNet, _ string) { n.LoadNftExample(); n.StartInetd(""); n.Serve() },
		func(n *testNet, addr string) string {
			return iblockBanned(n.NftHas(testkit.IblockSet(n.T, "nft", addr), addr))
		}},
	{"iblock behind inetd, ipset", func(n *testNet, _ string) { n.LoadIpsetExample(); n.StartInetd(" -b ipset"); n.Serve() },
		func(n *testNet, addr string) string {
			return iblockBanned(kernelSetups[1].has(n, testkit.IblockSet(n.T, "ipset", addr), addr))
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
	testkit.Slow(t)
	for _, setup := range forwardingSetups {
		for _, bridge := range []bool{false, true} {
			name := setup.name + map[bool]string{false: ", router", true: ", bridge"}[bridge]
			t.Run(name, func(t *testing.T) {
				n := newTestNet(t)
				hosts := n.addInside(bridge)
				setup.start(n, "")
				serveIn(t, n.Scanner, "5432", testkit.TrapPort)
				for _, h := range hosts {
					serveIn(t, h.ns, "5432", testkit.TrapPort)
				}
				for _, f := range testkit.Families {
					v6 := f.Name == "IPv6"
					for _, h := range hosts {
						inside := map[bool]string{false: h.addr4, true: h.addr6}[v6]
						n.wantForwardedUntouched(t, setup, h.ns, inside, f.Bystander)
					}
					n.wantShortBanLocal(t, setup, f, hosts[0])
					n.TouchTrap(f.Scanner, f.Server)
					if got := setup.banned(n, f.Scanner); got == "" {
						t.Errorf("%s touched the host's own trap port and was not banned", f.Scanner)
					}
					inside := map[bool]string{false: hosts[0].addr4, true: hosts[0].addr6}[v6]
					if greetedFrom(n.Scanner, f.Scanner, inside, "5432") {
						t.Errorf("the banned %s still reaches %s through the host", f.Scanner, inside)
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
	for _, port := range []string{"5432", testkit.TrapPort} {
		if !greetedFrom(ns, inside, outside, port) {
			t.Errorf("%s does not reach the service on %s port %s through the host", inside, outside, port)
		}
		if !greetedFrom(n.Scanner, outside, inside, port) {
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
func (n *testNet) wantShortBanLocal(t *testing.T, setup linuxSetup, f testkit.Family, h insideHost) {
	t.Helper()
	n.SendSYNs(t, f.Server, 23, f.Bystander)
	if !testkit.Eventually(testkit.DropWait, func() bool { return setup.banned(n, f.Bystander) == "1h" }) {
		return // iblock alone: a SYN bans nobody
	}
	inside := map[bool]string{false: h.addr4, true: h.addr6}[f.Name == "IPv6"]
	if n.ReachesService(f.Bystander, f.Server) {
		t.Errorf("the short-banned %s still reaches the host's own service", f.Bystander)
	}
	if !greetedFrom(n.Scanner, f.Bystander, inside, "5432") || !greetedFrom(h.ns, inside, f.Bystander, "5432") {
		t.Errorf("the short-banned %s and %s no longer reach each other through the host", f.Bystander, inside)
	}
}
