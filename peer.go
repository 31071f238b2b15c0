package main

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

var errNotInet = errors.New("peer is neither IPv4 nor IPv6")

// peerAddr returns the address of the peer connected on fd. IPv4-mapped IPv6
// addresses (a dual-stack socket's IPv4 peers) come back as IPv4, and the
// zone of a link-local address is dropped: a table holds addresses, not zones.
func peerAddr(fd int) (netip.Addr, error) {
	sa, err := unix.Getpeername(fd)
	if err == unix.ENOTSOCK {
		return netip.Addr{}, errors.New("standard input is not a socket: iblock is started by inetd or systemd with a connection as its standard input")
	}
	if err == unix.ENOTCONN && listening(fd) {
		// What inetd passes to a "wait" service: the socket it listens on.
		return netip.Addr{}, errors.New("standard input is a listening socket, not a connection: " +
			"inetd.conf must start iblock as a nowait service, not wait")
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("getpeername: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap(), nil
	}
	return netip.Addr{}, errNotInet
}

// listening reports whether fd is a socket that listens for connections.
func listening(fd int) bool {
	on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && on != 0
}
