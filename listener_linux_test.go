package main

// The proof of a handshake looks for a full socket bound to one address:
// the established socket of a completed handshake. The listener must then
// be bound to the wildcard address, as the examples' are; bound to the
// server's own address, the listener itself is such a socket, and a
// forged ACK that meets no half-open handshake finds it.

import (
	"net"
	"testing"
)

// listenAndClose listens on addr in the server namespace and closes each
// connection it accepts, as the trap does once it has banned.
func (n *testNet) listenAndClose(t *testing.T, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNamespace(n.server, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// TestListenerOnTheServersAddressLetsAForgedSYNBanForLong shows why the
// examples' listeners stay on the wildcard address: bound to the server's
// own address, the listener is itself a full socket bound to one address,
// which every packet that meets no other socket finds, a forged SYN
// first. A single forged SYN then bans its victim for ten days.
func TestListenerOnTheServersAddressLetsAForgedSYNBanForLong(t *testing.T) {
	slow(t)
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			kmsg := followKmsg(t)
			n := newTestNet(t)
			n.routeForgedVictims()
			k.load(n)
			for i, f := range families {
				n.listenAndClose(t, net.JoinHostPort(f.server, iblockPort))
				victim := forgedVictim(20+i, f.name == "IPv6")
				n.sendSYNs(t, f.server, 23, victim)
				line := kmsg.waitLine(t, "iblock-ban: ", n.kmsgMAC(), kmsgSrc(victim))
				got := k.banLength(n, victim)
				report(t, "listener on %s: a forged SYN from %s banned %q: %s", f.server, victim, got, line)
				if got != "10d" {
					t.Errorf("listener on %s: a forged SYN banned %q", f.server, got)
				}
			}
		})
	}
}
