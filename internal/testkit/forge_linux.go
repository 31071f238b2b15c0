package testkit

// Forged TCP segments, sent from the scanner namespace on a raw socket
// with any source address: the SYNs a SYN scanner sends, a SYN in someone
// else's name, and ACKs that guess the server's sequence number without
// ever having seen its SYN-ACK, as a blind forger must.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Segment is one TCP segment with no options and no data.
type Segment struct {
	Src, Dst     netip.Addr
	Sport, Dport uint16
	Seq, Ack     uint32
	Flags        byte
}

const (
	FlagSYN = 0x02
	FlagACK = 0x10
)

// SYN is the segment a SYN scanner sends from src:sport to dst:dport.
func SYN(src, dst netip.Addr, sport, dport uint16) Segment {
	return Segment{Src: src, Dst: dst, Sport: sport, Dport: dport, Seq: 0x1b10c000 + uint32(sport), Flags: FlagSYN}
}

// SendSYNs sends one SYN from each source to dst:port, from the scanner
// namespace. The sources need not be addresses of the namespace.
func (n *Net) SendSYNs(t *testing.T, dst string, port uint16, srcs ...string) {
	t.Helper()
	to := netip.MustParseAddr(dst)
	segs := make([]Segment, len(srcs))
	for i, src := range srcs {
		segs[i] = SYN(netip.MustParseAddr(src), to, uint16(40000+i%20000), port)
	}
	n.SendSegments(t, segs)
}

// SendSegments sends segments, all to the same destination, from the
// scanner namespace.
func (n *Net) SendSegments(t *testing.T, segs []Segment) {
	t.Helper()
	i := 0
	err := n.SendEach(segs[0].Dst, func() (Segment, bool) {
		if i == len(segs) {
			return Segment{}, false
		}
		i++
		return segs[i-1], true
	})
	if err != nil {
		t.Fatalf("sending forged segments: %v", err)
	}
}

// SendEach sends the segments next returns, all to dst, from the scanner
// namespace, until it returns false.
func (n *Net) SendEach(dst netip.Addr, next func() (Segment, bool)) error {
	return InNamespace(n.Scanner, func() error {
		family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: dst.As16()})
		if dst.Is4() {
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: dst.As4()}
		}
		// IPPROTO_RAW: the packet carries its own IP header (IPv4 and IPv6).
		fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for s, ok := next(); ok; s, ok = next() {
			if err := unix.Sendto(fd, s.Packet(), 0, sa); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgeHandshake sends a SYN from victim to dst's trap port, waits until
// the server has answered it (a half-open handshake, or a SYN cookie that
// keeps none), then sends an ACK with each of the guessed acknowledgement
// numbers.
func (n *Net) ForgeHandshake(t *testing.T, victim, dst string, sport uint16, acks []uint32) {
	t.Helper()
	syn := Segment{Src: netip.MustParseAddr(victim), Dst: netip.MustParseAddr(dst), Sport: sport, Dport: 23,
		Seq: 0x5eed0000 + uint32(sport), Flags: FlagSYN}
	cookies := n.SyncookiesSent()
	n.SendSegments(t, []Segment{syn})
	WaitUntil(t, 5*time.Second, "the server's answer to "+victim, func() bool {
		return n.HalfOpen(syn.Src) || n.SyncookiesSent() > cookies
	})
	segs := make([]Segment, len(acks))
	for i, a := range acks {
		segs[i] = syn
		segs[i].Seq, segs[i].Ack, segs[i].Flags = syn.Seq+1, a, FlagACK
	}
	n.SendSegments(t, segs)
}

// ForgedVictim returns the i-th of the forged victims: addresses no host
// of the test nets has, so that the server's SYN-ACKs to them go
// unanswered, as they do on the Internet when the victim is offline or
// filtered.
func ForgedVictim(i int, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2001:db8:f0::%x", 0x100+i)
	}
	return fmt.Sprintf("203.0.113.%d", 100+i)
}

// RouteForgedVictims routes the forged victims' networks from the server
// to the scanner namespace, which drops what it receives for them.
func (n *Net) RouteForgedVictims() {
	n.T.Helper()
	n.IPBatch(n.Server, "route add 203.0.113.0/24 via "+Scanner4, "route add 2001:db8:f0::/48 via "+Scanner6)
}

// Packet returns the segment in an IP packet of its family.
func (s Segment) Packet() []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], s.Sport)
	binary.BigEndian.PutUint16(tcp[2:], s.Dport)
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	tcp[12], tcp[13] = 5<<4, s.Flags            // header length: 5 words
	binary.BigEndian.PutUint16(tcp[14:], 64240) // window
	// The checksum covers a pseudo-header of addresses, protocol and length.
	pseudo := append(s.Src.AsSlice(), s.Dst.AsSlice()...)
	pseudo = append(pseudo, 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], checksum(append(pseudo, tcp...)))
	if s.Src.Is4() {
		ip := make([]byte, 20, 20+len(tcp))
		ip[0] = 0x45 // version 4, 5 words
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		ip[8], ip[9] = 64, unix.IPPROTO_TCP // TTL, protocol
		copy(ip[12:], s.Src.AsSlice())
		copy(ip[16:], s.Dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		return append(ip, tcp...)
	}
	ip := make([]byte, 40, 40+len(tcp))
	ip[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
	ip[6], ip[7] = unix.IPPROTO_TCP, 64 // next header, hop limit
	copy(ip[8:], s.Src.AsSlice())
	copy(ip[24:], s.Dst.AsSlice())
	return append(ip, tcp...)
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
