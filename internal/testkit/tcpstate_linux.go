package testkit

// What the server namespace's TCP stack holds and counts, read from its
// /proc files: listeners, half-open handshakes, SYN cookies sent. None of
// it connects: a connection to a trap port would be a ban.

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// TCP states as /proc/net/tcp writes them.
const (
	tcpSynRecv = "03"
	tcpListen  = "0A"
)

// serverSockets reports whether a socket of the server namespace's table
// (tcp or tcp6) is in state and matches: match gets the local and the
// remote address, as /proc/net/tcp writes them (hex address:port).
func (n *Net) serverSockets(table, state string, match func(local, remote string) bool) bool {
	found := false
	InNamespace(n.Server, func() error {
		data, _ := os.ReadFile("/proc/thread-self/net/" + table)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && f[3] == state && match(f[1], f[2]) {
				found = true
			}
		}
		return nil
	})
	return found
}

// Listeners reports whether IPv4 and IPv6 sockets listen on port in the
// server namespace.
func (n *Net) Listeners(port string) (v4, v6 bool) {
	hex := fmt.Sprintf(":%04X", MustAtoi(port))
	onPort := func(local, _ string) bool { return strings.HasSuffix(local, hex) }
	return n.serverSockets("tcp", tcpListen, onPort), n.serverSockets("tcp6", tcpListen, onPort)
}

// halfOpen reports whether the server namespace holds a half-open
// handshake (SYN_RECV) with peer. An IPv4 peer of a dual-stack listener
// is in the IPv6 table, as an IPv4-mapped address.
func (n *Net) halfOpen(peer netip.Addr) bool {
	from := func(hex string) func(_, remote string) bool {
		return func(_, remote string) bool { return strings.HasPrefix(remote, hex+":") }
	}
	mapped := n.serverSockets("tcp6", tcpSynRecv, from(procAddr(netip.AddrFrom16(peer.As16()))))
	return mapped || peer.Is4() && n.serverSockets("tcp", tcpSynRecv, from(procAddr(peer)))
}

// procAddr writes an address as /proc/net/tcp does: 32-bit words in the
// machine's (little-endian) order.
func procAddr(a netip.Addr) string {
	b := a.AsSlice()
	var s strings.Builder
	for i := 0; i < len(b); i += 4 {
		fmt.Fprintf(&s, "%02X%02X%02X%02X", b[i+3], b[i+2], b[i+1], b[i])
	}
	return s.String()
}

// SyncookiesSent is how many SYN cookies the server namespace has sent.
func (n *Net) SyncookiesSent() int {
	var v int
	InNamespace(n.Server, func() error {
		data, _ := os.ReadFile("/proc/thread-self/net/netstat")
		lines := strings.Split(string(data), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			for j, name := range names {
				if name == "SyncookiesSent" && j < len(values) {
					v, _ = strconv.Atoi(values[j])
				}
			}
		}
		return nil
	})
	return v
}
