package main

// Only a TCP connection on standard input can lead to a ban: the source
// address of a datagram is whatever its sender wrote, so a UDP "peer" may
// be anyone, a gateway or a resolver included.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"iblock/internal/testkit"
)

const wantDatagramRefused = "standard input is a datagram socket, not a TCP connection: " +
	"only the peer of a TCP connection, whose handshake proved its address, is banned"

// TestConnectedUDPSocketIsRefused gives iblock a connected UDP socket on
// loopback as fds 0, 1 and 2, as inetd would for a dgram service: it must
// run no command, say why, exit 1, and send the peer nothing.
func TestConnectedUDPSocketIsRefused(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			sock, peer := connectedUDPPair(t, network)
			fk := testkit.NewFakeDir(t)
			c := testkit.RunWithStdio(t, testkit.Iblock(t), fk, sock, sock, "-w", "/dev/null", "-b", "nft", "-d", "none", "-c", fk.Path("nft"))
			c.WantExit(t, exitFailure)
			c.WantArgv(t)
			wantOneError(t, c, wantDatagramRefused)
			// Loopback delivers a datagram as it is sent: anything iblock
			// wrote is already waiting, and a read that does not wait finds it.
			var buf [2048]byte
			if n, _, err := syscall.Recvfrom(peer, buf[:], syscall.MSG_DONTWAIT); err != syscall.EAGAIN {
				t.Errorf("the peer received %d bytes (%v): %q", n, err, buf[:max(n, 0)])
			}
		})
	}
}

// TestDatagramRefusalIsSaidOnStderrRunByHand: with stderr a file, as when
// a person runs iblock, the reason is printed there too.
func TestDatagramRefusalIsSaidOnStderrRunByHand(t *testing.T) {
	t.Parallel()
	sock, _ := connectedUDPPair(t, "udp4")
	fk := testkit.NewFakeDir(t)
	stderr, err := os.Create(filepath.Join(fk.Dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.RunWithStdio(t, testkit.Iblock(t), fk, sock, stderr, "-w", "/dev/null", "-b", "pf", "-d", "none", "-c", fk.Path("pfctl"))
	stderr.Close()
	c.WantExit(t, exitFailure)
	c.WantArgv(t)
	if said, _ := os.ReadFile(stderr.Name()); !strings.Contains(string(said), "iblock: "+wantDatagramRefused) {
		t.Errorf("stderr %q", said)
	}
}

// connectedUDPPair returns a UDP socket on loopback connected to another,
// and that other's descriptor, to read what the first one sent.
func connectedUDPPair(t *testing.T, network string) (*os.File, int) {
	t.Helper()
	host := "127.0.0.1"
	if network == "udp6" {
		host = "::1"
	}
	a, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.DialUDP(network, nil, a.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// a, connected back to b, is what inetd would hand over.
	sock, err := a.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	bAddr := b.LocalAddr().(*net.UDPAddr)
	var sa syscall.Sockaddr
	if ip4 := bAddr.IP.To4(); ip4 != nil && network == "udp4" {
		sa4 := &syscall.SockaddrInet4{Port: bAddr.Port}
		copy(sa4.Addr[:], ip4)
		sa = sa4
	} else {
		sa6 := &syscall.SockaddrInet6{Port: bAddr.Port}
		copy(sa6.Addr[:], bAddr.IP.To16())
		sa = sa6
	}
	if err := syscall.Connect(int(sock.Fd()), sa); err != nil {
		t.Fatal(err)
	}
	peer, err := b.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return sock, int(peer.Fd())
}
