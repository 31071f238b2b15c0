package main

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

var errNotInet = errors.New("peer is neither IPv4 nor IPv6")

// tcpPeerAddr returns the address of the TCP peer connected on fd, and
// refuses any other socket: a TCP peer is the only kind iblock bans (see
// tcpOnly). IPv4-mapped IPv6 addresses (a
// dual-stack socket's IPv4 peers) come back as IPv4, and the zone of a
// link-local address is dropped: a table holds addresses, not zones.
func tcpPeerAddr(fd int) (netip.Addr, error) {
	sa, err := unix.Getpeername(fd)
	if errors.Is(err, unix.ENOTSOCK) {
		return netip.Addr{}, errors.New("standard input is not a socket: iblock is started by inetd or systemd with a connection as its standard input")
	}
	if errors.Is(err, unix.ENOTCONN) && listening(fd) {
		// What inetd passes to a "wait" service: the socket it listens on.
		return netip.Addr{}, errors.New("standard input is a listening socket, not a connection: " +
			"inetd.conf must start iblock as a nowait service, not wait")
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("getpeername: %w", err)
	}
	var addr netip.Addr
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		addr = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		addr = netip.AddrFrom16(sa.Addr).Unmap()
	default:
		return netip.Addr{}, errNotInet
	}
	if err := tcpOnly(fd); err != nil {
		return netip.Addr{}, err
	}
	return addr, nil
}

// tcpOnly refuses any socket but a TCP one: the source address of a
// datagram is whatever its sender wrote, while a TCP peer has answered the
// handshake at its address. Where the protocol cannot be known (see
// socketProtocol), an inet stream socket is taken for TCP.
func tcpOnly(fd int) error {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("getsockopt SO_TYPE: %w", err)
	}
	var kind string
	switch {
	case typ == unix.SOCK_DGRAM:
		kind = "a datagram socket"
	case typ != unix.SOCK_STREAM:
		kind = fmt.Sprintf("a socket of type %d", typ)
	default:
		proto, known, err := socketProtocol(fd)
		if err != nil {
			return fmt.Errorf("getsockopt SO_PROTOCOL: %w", err)
		}
		if known && proto != unix.IPPROTO_TCP {
			kind = fmt.Sprintf("a stream socket of protocol %d", proto)
		}
	}
	if kind == "" {
		return nil
	}
	return fmt.Errorf("standard input is %s, not a TCP connection: "+
		"only the peer of a TCP connection, whose handshake proved its address, is banned", kind)
}

// listening reports whether fd is a socket that listens for connections.
func listening(fd int) bool {
	on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && on != 0
}
