//go:build !netbsd

package main

import (
	"errors"

	"golang.org/x/sys/unix"
)

// socketProtocol returns the protocol of the socket on fd, from
// SO_PROTOCOL (Linux, FreeBSD and OpenBSD define it). A kernel older than
// the option answers ENOPROTOOPT: then the protocol is not known.
func socketProtocol(fd int) (proto int, known bool, err error) {
	proto, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if errors.Is(err, unix.ENOPROTOOPT) {
		return 0, false, nil
	}
	return proto, err == nil, err
}
