package netns

// The proof of a handshake looks for a full socket bound to one address:
// the established socket of a completed handshake. The listener must then
// be bound to the wildcard address, as the examples' are; bound to the
// server's own address, the listener itself is such a socket, and a
// forged ACK that meets no half-open handshake finds it.

import (
	"net"
	"testing"

	"iblock/internal/testkit"
)

// TestListenerOnTheServersAddressLetsAForgedSYNBanForLong shows why the
// examples' listeners stay on the wildcard address: bound to the server's
// own address, the listener is itself a full socket bound to one address,
// which every packet that meets no other socket finds, a forged SYN
// first. A single forged SYN then bans its victim for ten days.
func TestListenerOnTheServersAddressLetsAForgedSYNBanForLong(t *testing.T) {
	testkit.Slow(t)
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		n.RouteForgedVictims()
		k.load(n)
		for i, f := range testkit.Families {
			n.ListenAndClose(net.JoinHostPort(f.Server, testkit.IblockPort))
			victim := testkit.ForgedVictim(20+i, f.Name == "IPv6")
			n.SendSYNs(t, f.Server, 23, victim)
			line := kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(victim))
			got := k.banLength(n, victim)
			testkit.Report(t, "listener on %s: a forged SYN from %s banned %q: %s", f.Server, victim, got, line)
			if got != "10d" {
				t.Errorf("listener on %s: a forged SYN banned %q", f.Server, got)
			}
		}
	})
}
