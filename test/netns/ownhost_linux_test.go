package netns

// Nothing of the host's own is ever banned: not its addresses, whichever
// interface holds them and whenever they were added, not the routers and
// neighbours of its links (link-local sources), and no ban drops the
// neighbour discovery and the ICMP errors its connections need.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// Addresses the server namespace gets after its ruleset was loaded, on a
// bridge, as a container host's are.
const (
	laterAddr4 = "198.51.100.1"
	laterAddr6 = "2001:db8:0:7::1"
)

// nobody is the uid of an unprivileged account.
const nobody = 65534

// TestLocalAccountCannotGetTheHostBanned binds, as an unprivileged account
// on the server, a trap port of 1024 or more as its source port and
// connects from each of the host's addresses (those of the ruleset's load,
// and a bridge's added afterwards, IPv4 and IPv6) to the same address on
// iblock's port: the SYN-ACK goes to the trap port, the handshake
// completes, and iblock starts. Neither the kernel nor iblock bans the
// address; iblock says why; the host still reaches its own service. A
// SYN forged from outside in the host's name bans nothing either.
func TestLocalAccountCannotGetTheHostBanned(t *testing.T) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.Start(n, "")
		n.IPBatch(n.Server, "link add brown type bridge", "addr add "+laterAddr4+"/24 dev brown",
			"addr add "+laterAddr6+"/64 dev brown nodad", "link set brown up")
		own := []string{testkit.Server4, testkit.Server6, laterAddr4, laterAddr6}
		for _, addr := range own {
			for _, sport := range []int{3306, 8080} {
				before := testkit.Log(t).Count("not blocking " + addr + ": an address of this host")
				c, err := testkit.DialAs(n.Server, nobody, addr, sport, addr, testkit.IblockPort, 5*time.Second)
				if err != nil {
					t.Fatalf("from %s port %d to its own port %s: %v", addr, sport, testkit.IblockPort, err)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				testkit.ReadAll(c) // until iblock has exited
				c.Close()
				if !testkit.Eventually(5*time.Second, func() bool {
					return testkit.Log(t).Count("not blocking "+addr+": an address of this host") > before
				}) {
					t.Errorf("iblock did not log that %s is an address of this host", addr)
				}
			}
		}
		// Forged from outside, in the host's name, to a trap port; then
		// a forgery in someone else's name, banned: the first one has
		// been through the rules by then.
		n.SendSYNs(t, testkit.Server6, 23, testkit.Server6, laterAddr6)
		n.SendSYNs(t, testkit.Server4, 23, testkit.Server4, laterAddr4)
		n.RouteForgedVictims()
		for i, v6 := range []bool{false, true} {
			victim := testkit.ForgedVictim(i, v6)
			n.SendSYNs(t, serverOf(v6), 23, victim)
			if !testkit.Eventually(2*time.Second, func() bool { return k.banLength(n, victim) == "1h" }) {
				t.Errorf("the forged SYN from %s was not banned", victim)
			}
		}
		for _, addr := range own {
			got := k.banLength(n, addr)
			lines := kmsg.Lines("iblock-", testkit.KmsgSrc(addr))
			reached := false
			testkit.InNamespace(n.Server, func() error { reached = dialGreets(addr); return nil })
			testkit.Report(t, "the host's own %s: banned %q, kernel lines %q, reaches its own service %v", addr, got, lines, reached)
			if got != "" || len(lines) > 0 || !reached {
				t.Errorf("the host's own %s was banned %q, logged %q; reaches its own service: %v", addr, got, lines, reached)
			}
			if testkit.Log(t).Count("blocking "+addr) > 0 {
				t.Errorf("iblock logged %q", "blocking "+addr)
			}
		}
	})
}

// The router of the link, as the scanner namespace plays it: a
// link-local address, and a network behind it that the server reaches
// through it.
const (
	routerLinkLocal = "fe80::1:1"
	behindRouter    = "2001:db8:77::1"
)

// TestLinkLocalRouterIsNeverBannedAndItsNeighbourDiscoveryPasses forges
// a SYN in the name of the IPv6 router's link-local address: it is not
// banned, and the server still resolves the router and reaches a service
// behind it. Then a neighbour on the link is short-banned by a SYN forged
// in its name: the server still resolves it (neighbour discovery) and
// still hears its ICMP errors, IPv4 and IPv6.
func TestLinkLocalRouterIsNeverBannedAndItsNeighbourDiscoveryPasses(t *testing.T) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.Start(n, "")
		n.IPBatch(n.Scanner, "addr add "+routerLinkLocal+"/64 dev veth0 nodad", "addr add "+behindRouter+"/128 dev lo")
		n.IPBatch(n.Server, "route add 2001:db8:77::/48 via "+routerLinkLocal+" dev veth0")
		serveIn(t, n.Scanner, "5432")
		n.SendSegments(t, []testkit.Segment{testkit.SYN(netip.MustParseAddr(routerLinkLocal), netip.MustParseAddr(testkit.Server6), 40000, 23)})
		// A neighbour whose address the server must resolve, banned.
		neighbours := map[bool]string{false: "192.0.2.40", true: "2001:db8:0:8::40"}
		n.IPBatch(n.Scanner, "addr add "+neighbours[false]+"/24 dev veth0", "addr add "+neighbours[true]+"/48 dev veth0 nodad")
		for _, v6 := range []bool{false, true} {
			n.SendSYNs(t, serverOf(v6), 23, neighbours[v6])
			if !testkit.Eventually(2*time.Second, func() bool { return k.banLength(n, neighbours[v6]) == "1h" }) {
				t.Errorf("the SYN forged in %s's name was not banned", neighbours[v6])
			}
		}
		banned := k.banLength(n, routerLinkLocal)
		reached := greetedFrom(n.Server, testkit.Server6, behindRouter, "5432")
		testkit.Report(t, "the router's link-local %s after a SYN forged in its name: banned %q; the server reaches %s behind it: %v",
			routerLinkLocal, banned, behindRouter, reached)
		if banned != "" || !reached {
			t.Errorf("the router %s: banned %q, the server reaches the network behind it: %v", routerLinkLocal, banned, reached)
		}
		for _, v6 := range []bool{false, true} {
			err := udpAnswer(n.Server, neighbours[v6])
			neigh := strings.TrimSpace(n.MustRun("ip", "neigh", "show", neighbours[v6]))
			testkit.Report(t, "short-banned neighbour %s: neighbour entry %q, a datagram to a closed port: %v", neighbours[v6], neigh, err)
			if !errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(neigh, "FAILED") {
				t.Errorf("short-banned neighbour %s: neighbour entry %q; want its ICMP error, got %v", neighbours[v6], neigh, err)
			}
		}
	})
}

// udpAnswer sends a datagram from namespace ns to port 9 of addr, which
// nothing serves, and returns what the answer made of a read: the ICMP
// port unreachable error (ECONNREFUSED), or a timeout when none arrived.
func udpAnswer(ns, addr string) error {
	return testkit.InNamespace(ns, func() error {
		c, err := net.Dial("udp", net.JoinHostPort(addr, "9"))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		for i := 0; i < 3; i++ { // the first may wait for neighbour discovery
			if _, err := c.Write([]byte("?")); err != nil {
				return err
			}
			_, err = c.Read(make([]byte, 1))
			if errors.Is(err, syscall.ECONNREFUSED) {
				return err
			}
		}
		return fmt.Errorf("no answer from %s: %w", addr, err)
	})
}
