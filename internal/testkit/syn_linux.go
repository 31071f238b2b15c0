package testkit

// Bare SYNs with any source address, sent from the scanner namespace on a
// raw socket: what a SYN scanner sends, and what a forger sends in the name
// of someone else.

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// SendSYNs sends one SYN from each source to dst:port, from the scanner
// namespace. The sources need not be addresses of the namespace.
func (n *Net) SendSYNs(t *testing.T, dst string, port uint16, srcs ...string) {
	t.Helper()
	to := netip.MustParseAddr(dst)
	err := InNamespace(n.Scanner, func() error {
		Family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: to.As16()})
		if to.Is4() {
			Family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: to.As4()}
		}
		// IPPROTO_RAW: the packet carries its own IP header (IPv4 and IPv6).
		fd, err := unix.Socket(Family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for i, src := range srcs {
			pkt := synPacket(netip.MustParseAddr(src), to, uint16(40000+i%20000), port)
			if err := unix.Sendto(fd, pkt, 0, sa); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sending SYNs: %v", err)
	}
}

// synPacket builds an IP packet holding a TCP SYN from src:sport to dst:dport.
func synPacket(src, dst netip.Addr, sport, dport uint16) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], 0x1b10c000+uint32(sport)) // sequence number
	tcp[12] = 5 << 4                                              // header length: 5 words
	tcp[13] = 0x02                                                // SYN
	binary.BigEndian.PutUint16(tcp[14:], 64240)                   // window
	// The checksum covers a pseudo-header of addresses, protocol and length.
	pseudo := append(src.AsSlice(), dst.AsSlice()...)
	pseudo = append(pseudo, 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], checksum(append(pseudo, tcp...)))
	if src.Is4() {
		ip := make([]byte, 20, 20+len(tcp))
		ip[0] = 0x45 // version 4, 5 words
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
		ip[8], ip[9] = 64, unix.IPPROTO_TCP // TTL, protocol
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		return append(ip, tcp...)
	}
	ip := make([]byte, 40, 40+len(tcp))
	ip[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
	ip[6], ip[7] = unix.IPPROTO_TCP, 64 // next header, hop limit
	copy(ip[8:], src.AsSlice())
	copy(ip[24:], dst.AsSlice())
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
