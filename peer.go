package main

import (
	"errors"
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
	if err != nil {
		return netip.Addr{}, errors.New("getpeername: " + err.Error())
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap(), nil
	}
	return netip.Addr{}, errNotInet
}
