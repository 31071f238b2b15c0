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
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	FlagACK = 0x10
	flagURG = 0x20
)

// Probe is a scan's first packet to dst:dport from src:sport, for each
// kind of scan nmap knows without a handshake (-sS, -sF, -sN, -sX, -sM,
// -sA, -sW: the window scan sends the ACK scan's packet) and UDP (-sU).
func Probe(kind string, src, dst netip.Addr, sport, dport uint16) []byte {
	flags := map[string]byte{"SYN": flagSYN, "FIN": flagFIN, "NULL": 0, "Xmas": flagFIN | flagPSH | flagURG,
		"Maimon": flagFIN | FlagACK, "ACK": FlagACK, "window": FlagACK}
	if kind == "UDP" {
		return datagram{src: src, dst: dst, sport: sport, dport: dport}.packet()
	}
	f, ok := flags[kind]
	if !ok {
		panic("no probe " + kind)
	}
	return Segment{Src: src, Dst: dst, Sport: sport, Dport: dport, Seq: 0x1b10c000 + uint32(sport), Flags: f}.packet()
}

// ProbeKinds are the kinds Probe sends.
var ProbeKinds = []string{"SYN", "FIN", "NULL", "Xmas", "Maimon", "ACK", "window", "UDP"}

// SYN is the segment a SYN scanner sends from src:sport to dst:dport.
func SYN(src, dst netip.Addr, sport, dport uint16) Segment {
	return Segment{Src: src, Dst: dst, Sport: sport, Dport: dport, Seq: 0x1b10c000 + uint32(sport), Flags: flagSYN}
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
	return n.SendPackets(dst, func() ([]byte, bool) {
		s, ok := next()
		if !ok {
			return nil, false
		}
		return s.packet(), true
	})
}

// SendPackets sends the IP packets next returns, all to dst, from the
// scanner namespace, until it returns false.
func (n *Net) SendPackets(dst netip.Addr, next func() ([]byte, bool)) error {
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
		for p, ok := next(); ok; p, ok = next() {
			if err := unix.Sendto(fd, p, 0, sa); err != nil {
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
		Seq: 0x5eed0000 + uint32(sport), Flags: flagSYN}
	cookies := n.SyncookiesSent()
	n.SendSegments(t, []Segment{syn})
	WaitUntil(t, 5*time.Second, "the server's answer to "+victim, func() bool {
		return n.halfOpen(syn.Src) || n.SyncookiesSent() > cookies
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

// packet returns the segment in an IP packet of its family.
func (s Segment) packet() []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], s.Sport)
	binary.BigEndian.PutUint16(tcp[2:], s.Dport)
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	tcp[12], tcp[13] = 5<<4, s.Flags            // header length: 5 words
	binary.BigEndian.PutUint16(tcp[14:], 64240) // window
	return ipPacket(s.Src, s.Dst, unix.IPPROTO_TCP, tcp, 16)
}

// datagram is one UDP datagram with no payload, as a UDP scan's probe of
// a port whose service it does not know.
type datagram struct {
	src, dst     netip.Addr
	sport, dport uint16
}

// packet returns the datagram in an IP packet of its family.
func (d datagram) packet() []byte {
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], d.sport)
	binary.BigEndian.PutUint16(udp[2:], d.dport)
	binary.BigEndian.PutUint16(udp[4:], 8)
	return ipPacket(d.src, d.dst, unix.IPPROTO_UDP, udp, 6)
}

// ipPacket puts a TCP or UDP header in an IP packet of src's family, with
// the header's checksum, at offset sum, filled in.
func ipPacket(src, dst netip.Addr, proto byte, payload []byte, sum int) []byte {
	// The checksum covers a pseudo-header of addresses, protocol and length.
	pseudo := append(src.AsSlice(), dst.AsSlice()...)
	pseudo = append(pseudo, 0, proto, 0, byte(len(payload)))
	c := checksum(append(pseudo, payload...))
	if c == 0 && proto == unix.IPPROTO_UDP {
		c = 0xffff // 0 means "no checksum", which IPv6 forbids
	}
	binary.BigEndian.PutUint16(payload[sum:], c)
	if src.Is4() {
		ip := make([]byte, 20, 20+len(payload))
		ip[0] = 0x45 // version 4, 5 words
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
		ip[8], ip[9] = 64, proto // TTL, protocol
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		return append(ip, payload...)
	}
	ip := make([]byte, 40, 40+len(payload))
	ip[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = proto, 64 // next header, hop limit
	copy(ip[8:], src.AsSlice())
	copy(ip[24:], dst.AsSlice())
	return append(ip, payload...)
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
