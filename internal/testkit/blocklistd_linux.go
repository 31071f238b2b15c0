package testkit

// A stand-in for blocklistd: a unix datagram socket that receives reports
// and decodes each one as libblocklist's bl_recv does (lib/bl.c of
// NetBSD's blocklist sources), then looks at the passed descriptor as
// blocklistd does: getpeername for the remote address, getsockname for
// the local port. It never runs a helper; the tests read what it got.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The wire format bl_recv accepts.
const (
	BlHeaderLen = 144 // four uint32 and a 128-byte sockaddr_storage
	BlVersion   = 1
	blAdd       = 1 // bl_type_t on the wire; BLOCKLIST_* of blocklist(3) differ
	blDelete    = 2
	BlAbuse     = 3
	blRecvBuf   = 512 // bl_recv's buffer
)

// BlocklistdReport is one datagram as the stand-in decoded it.
type BlocklistdReport struct {
	Len, Version, Type, SaLen uint32
	SockaddrZero              bool // bl_ss is all zero bytes
	Text                      string
	Size                      int // bytes received
	Fds                       int // descriptors passed
	Creds                     *unix.Ucred
	Remote, Local             netip.AddrPort // of the passed socket
	SockType                  int
	Problem                   string // why bl_recv or blocklistd would drop it; "" if none
}

// FakeBlocklistd is the stand-in's socket.
type FakeBlocklistd struct {
	Path string
	fd   int
}

// ListenBlocklistd binds a stand-in at dir/blocklistd.sock. Like
// blocklistd on Linux it sets SO_PASSCRED, so the kernel adds the
// sender's credentials to every datagram.
func ListenBlocklistd(t *testing.T, dir string) *FakeBlocklistd {
	t.Helper()
	path := filepath.Join(dir, "blocklistd.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	return &FakeBlocklistd{Path: path, fd: fd}
}

// Receive waits up to d for one report; ok is false if none came.
func (b *FakeBlocklistd) Receive(t *testing.T, d time.Duration) (r BlocklistdReport, ok bool) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(b.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(d/time.Millisecond))
	if err != nil && err != unix.EINTR {
		t.Fatal(err)
	}
	if n == 0 {
		return r, false
	}
	buf := make([]byte, blRecvBuf)
	oob := make([]byte, unix.CmsgSpace(4)+unix.CmsgSpace(unix.SizeofUcred))
	size, oobn, _, _, err := unix.Recvmsg(b.fd, buf, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	return decodeReport(buf[:size], oob[:oobn]), true
}

// WantNone fails the test if a report is waiting.
func (b *FakeBlocklistd) WantNone(t *testing.T) {
	t.Helper()
	if r, ok := b.Receive(t, 0); ok {
		t.Errorf("blocklistd got a report: %+v", r)
	}
}

// Fill sends datagrams from another socket until the queue is full, so
// that the next sender finds no room, and returns how many it took.
func (b *FakeBlocklistd) Fill(t *testing.T) int {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	if err := unix.Connect(s, &unix.SockaddrUnix{Name: b.Path}); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 10000; n++ {
		if err := unix.Send(s, []byte("filler"), 0); err == unix.EAGAIN {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the stand-in's queue never filled")
	return 0
}

// drain reads and drops every datagram waiting.
func (b *FakeBlocklistd) drain(t *testing.T) {
	t.Helper()
	for {
		if _, ok := b.Receive(t, 0); !ok {
			return
		}
	}
}

// decodeReport takes a datagram apart as bl_recv does: exactly one
// descriptor and the credentials, at least the header, version 1; the
// text is what follows the header. Then it reads the descriptor's peer
// and local address, as blocklistd's getremoteaddress and conf_find do,
// and closes it.
func decodeReport(data, oob []byte) BlocklistdReport {
	r := BlocklistdReport{Size: len(data)}
	var problems []error
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		problems = append(problems, err)
	}
	fd := -1
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_RIGHTS:
			fds, _ := unix.ParseUnixRights(&m)
			r.Fds += len(fds)
			if len(fds) == 1 && fd < 0 {
				fd = fds[0]
			} else {
				for _, f := range fds {
					unix.Close(f)
				}
			}
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_CREDENTIALS:
			r.Creds, _ = unix.ParseUnixCredentials(&m)
		}
	}
	if fd < 0 || r.Fds != 1 {
		problems = append(problems, fmt.Errorf("%d descriptors, not one", r.Fds))
	}
	if r.Creds == nil {
		problems = append(problems, errors.New("no credentials"))
	}
	if len(data) >= BlHeaderLen {
		order := binary.NativeEndian
		r.Len, r.Version = order.Uint32(data[0:]), order.Uint32(data[4:])
		r.Type, r.SaLen = order.Uint32(data[8:]), order.Uint32(data[12:])
		r.SockaddrZero = allZero(data[16:BlHeaderLen])
		r.Text = string(data[BlHeaderLen:])
		if r.Version != BlVersion {
			problems = append(problems, fmt.Errorf("bad version %d", r.Version))
		}
	} else {
		problems = append(problems, fmt.Errorf("message too short: %d bytes", len(data)))
	}
	if fd >= 0 {
		problems = append(problems, r.readSocket(fd))
		unix.Close(fd)
	}
	if err := errors.Join(problems...); err != nil {
		r.Problem = err.Error()
	}
	return r
}

// readSocket fills in what blocklistd learns from the descriptor.
func (r *BlocklistdReport) readSocket(fd int) error {
	r.SockType, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return fmt.Errorf("getpeername: %w", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("getsockname: %w", err)
	}
	if r.Remote, err = inetAddrPort(peer); err != nil {
		return err
	}
	r.Local, err = inetAddrPort(local)
	return err
}

func inetAddrPort(sa unix.Sockaddr) (netip.AddrPort, error) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("unsupported family %T", sa)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
