package main

// Forged TCP segments sent from the scanner namespace on a raw socket: a
// SYN in someone else's name, then ACKs that guess the server's sequence
// number without ever having seen its SYN-ACK, as a blind forger must.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// segment is one TCP segment with no options and no data.
type segment struct {
	src, dst     netip.Addr
	sport, dport uint16
	seq, ack     uint32
	flags        byte
}

const (
	flagSYN = 0x02
	flagACK = 0x10
)

// packet returns the segment in an IP packet of its family.
func (s segment) packet() []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], s.sport)
	binary.BigEndian.PutUint16(tcp[2:], s.dport)
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12], tcp[13] = 5<<4, s.flags
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	pseudo := append(s.src.AsSlice(), s.dst.AsSlice()...)
	pseudo = append(pseudo, 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], checksum(append(pseudo, tcp...)))
	if s.src.Is4() {
		ip := make([]byte, 20, 20+len(tcp))
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		ip[8], ip[9] = 64, unix.IPPROTO_TCP
		copy(ip[12:], s.src.AsSlice())
		copy(ip[16:], s.dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		return append(ip, tcp...)
	}
	ip := make([]byte, 40, 40+len(tcp))
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
	ip[6], ip[7] = unix.IPPROTO_TCP, 64
	copy(ip[8:], s.src.AsSlice())
	copy(ip[24:], s.dst.AsSlice())
	return append(ip, tcp...)
}

// sendSegments sends segments, all to the same destination, from the
// scanner namespace.
func (n *testNet) sendSegments(t *testing.T, segs []segment) {
	t.Helper()
	to := segs[0].dst
	err := inNamespace(n.scanner, func() error {
		family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: to.As16()})
		if to.Is4() {
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: to.As4()}
		}
		fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, s := range segs {
			if err := unix.Sendto(fd, s.packet(), 0, sa); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sending forged segments: %v", err)
	}
}

// Forged victims: addresses no host of the test nets has, so that the
// server's SYN-ACKs to them go unanswered, as they do on the Internet when
// the victim is offline or filtered.
func forgedVictim(i int, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2001:db8:f0::%x", 0x100+i)
	}
	return fmt.Sprintf("203.0.113.%d", 100+i)
}

// routeForgedVictims routes the forged victims' networks from the server
// to the scanner namespace, which drops what it receives for them.
func (n *testNet) routeForgedVictims() {
	n.t.Helper()
	n.ipBatch(n.server, "route add 203.0.113.0/24 via "+scanner4Addr, "route add 2001:db8:f0::/48 via "+scanner6Addr)
}

// halfOpen reports whether the server namespace holds a half-open
// handshake (SYN_RECV) with peer. An IPv4 peer of a dual-stack listener
// is in the IPv6 table, as an IPv4-mapped address.
func (n *testNet) halfOpen(peer netip.Addr) bool {
	tables := map[string]string{"/proc/thread-self/net/tcp6": procAddr(netip.AddrFrom16(peer.As16()))}
	if peer.Is4() {
		tables["/proc/thread-self/net/tcp"] = procAddr(peer)
	}
	found := false
	inNamespace(n.server, func() error {
		for table, hex := range tables {
			data, _ := os.ReadFile(table)
			for _, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) > 3 && strings.HasPrefix(f[2], hex+":") && f[3] == "03" {
					found = true
				}
			}
		}
		return nil
	})
	return found
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

// forgeHandshake sends a SYN from victim to dst's trap port, waits until
// the server has answered it (a half-open handshake, or a SYN cookie that
// keeps none), then sends an ACK with each of the guessed acknowledgement
// numbers.
func (n *testNet) forgeHandshake(t *testing.T, victim, dst string, sport uint16, acks []uint32) {
	t.Helper()
	syn := segment{src: netip.MustParseAddr(victim), dst: netip.MustParseAddr(dst), sport: sport, dport: 23,
		seq: 0x5eed0000 + uint32(sport), flags: flagSYN}
	cookies := n.syncookiesSent()
	n.sendSegments(t, []segment{syn})
	waitUntil(t, 5*time.Second, "the server's answer to "+victim, func() bool {
		return n.halfOpen(syn.src) || n.syncookiesSent() > cookies
	})
	segs := make([]segment, len(acks))
	for i, a := range acks {
		segs[i] = syn
		segs[i].seq, segs[i].ack, segs[i].flags = syn.seq+1, a, flagACK
	}
	n.sendSegments(t, segs)
}

// received returns how many packets the server's veth received and how
// many it dropped: a forgery counts only if its segments arrived.
func (n *testNet) received(t *testing.T) (packets, dropped uint64) {
	t.Helper()
	var links []struct {
		Stats struct {
			RX struct{ Packets, Dropped uint64 } `json:"rx"`
		} `json:"stats64"`
	}
	out := mustCombined(t, exec.Command("ip", "-n", n.server, "-j", "-s", "link", "show", "dev", "veth0"))
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -s link: %v %s", err, out)
	}
	return links[0].Stats.RX.Packets, links[0].Stats.RX.Dropped
}

// syncookiesSent is how many SYN cookies the server namespace has sent.
func (n *testNet) syncookiesSent() int {
	var v int
	inNamespace(n.server, func() error {
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
