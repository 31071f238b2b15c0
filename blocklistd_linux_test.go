package main

// -b blocklistd, run as inetd runs iblock, against testkit's stand-in for
// blocklistd, which decodes each report as libblocklist's bl_recv does.

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"iblock/internal/testkit"
)

// reported is one run of iblock -b blocklistd under the inetd stand-in.
type reported struct {
	testkit.Connection
	remote, local netip.AddrPort // of the accepted socket, as the kernel says
	report        testkit.BlocklistdReport
	got           bool // a report came
}

// runReporting runs iblock on one connection from sc, with -b blocklistd
// -c socket and args, and returns what it did. With bl, it then takes
// the report iblock sent, if any: until then the connection stays open,
// its descriptor in blocklistd's queue.
func runReporting(t *testing.T, sc testkit.Scanner, socket string, bl *testkit.FakeBlocklistd, args ...string) reported {
	t.Helper()
	var r reported
	args = append([]string{"-b", "blocklistd", "-c", socket}, args...)
	fk := testkit.NewFakeDir(t)
	received, err := testkit.AcceptAndRun(sc, func(sock *os.File) error {
		r.remote, r.local = socketAddrs(t, sock)
		r.Connection = testkit.RunWithStdio(t, testkit.Iblock(t), fk, sock, sock, args...)
		if bl != nil {
			r.report, r.got = bl.Receive(t, 5*time.Second)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(received) != 0 {
		t.Errorf("the scanner received %q", received)
	}
	r.WantArgv(t) // no program runs
	return r
}

func socketAddrs(t *testing.T, sock *os.File) (remote, local netip.AddrPort) {
	t.Helper()
	conn, err := net.FileConn(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.RemoteAddr().(*net.TCPAddr).AddrPort(), conn.LocalAddr().(*net.TCPAddr).AddrPort()
}

// TestBlocklistdGetsTheConnectionInOneAbuseReport: one datagram that
// bl_recv accepts, of type BL_ABUSE (3), without an address of its own,
// whose descriptor is the scanner's connection, sent by iblock itself.
func TestBlocklistdGetsTheConnectionInOneAbuseReport(t *testing.T) {
	for name, sc := range map[string]testkit.Scanner{"IPv4": testkit.Loopback4, "IPv6": testkit.Loopback6, "mapped": testkit.LoopbackMapped} {
		t.Run(name, func(t *testing.T) {
			bl := testkit.ListenBlocklistd(t, t.TempDir())
			r := runReporting(t, sc, bl.Path, bl, "-w", "/dev/null")
			r.WantExit(t, exitOK)
			r.WantLog(t, priNotice, "blocking "+r.remote.Addr().Unmap().String())
			got := r.report
			if !r.got {
				t.Fatal("blocklistd got no report")
			}
			if got.Problem != "" {
				t.Fatalf("bl_recv would drop the report: %s", got.Problem)
			}
			if got.Version != testkit.BlVersion || got.Type != testkit.BlAbuse || got.SaLen != 0 || !got.SockaddrZero {
				t.Errorf("header: version %d type %d salen %d, sockaddr zero %v; want 1, BL_ABUSE (3), 0, true",
					got.Version, got.Type, got.SaLen, got.SockaddrZero)
			}
			if int(got.Len) != got.Size || got.Size != testkit.BlHeaderLen+len(got.Text) || got.Text == "" || len(got.Text) > 128 {
				t.Errorf("bl_len %d, %d bytes, text %q: want the 144-byte header and up to 128 bytes of text", got.Len, got.Size, got.Text)
			}
			if got.Remote != r.remote || got.Local != r.local || got.SockType != unix.SOCK_STREAM {
				t.Errorf("the descriptor passed is %v -> %v (type %d), want the scanner's connection %v -> %v",
					got.Remote, got.Local, got.SockType, r.remote, r.local)
			}
			if got.Creds.Pid != int32(r.Pid) || got.Creds.Uid != uint32(os.Getuid()) {
				t.Errorf("credentials pid %d uid %d, want iblock's, %d and %d", got.Creds.Pid, got.Creds.Uid, r.Pid, os.Getuid())
			}
			bl.WantNone(t)
		})
	}
}

// TestBlocklistdGetsNoReportOfAnAllowlistedPeerOrADryRun: the allowlist
// is iblock's to apply, and a dry run sends nothing.
func TestBlocklistdGetsNoReportOfAnAllowlistedPeerOrADryRun(t *testing.T) {
	bl := testkit.ListenBlocklistd(t, t.TempDir())
	r := runReporting(t, testkit.Loopback4, bl.Path, bl)
	r.WantExit(t, exitOK)
	r.WantLog(t, priNotice, "not blocking 127.0.0.1: allowlisted")
	if r.got {
		t.Errorf("blocklistd got a report of an allowlisted peer: %+v", r.report)
	}

	r = runReporting(t, testkit.Loopback6, bl.Path, bl, "-n", "-w", "/dev/null")
	r.WantExit(t, exitOK)
	r.WantLog(t, priNotice, "dry run: would report ::1 to blocklistd at "+bl.Path)
	if r.got {
		t.Errorf("blocklistd got a report of a dry run: %+v", r.report)
	}
}

// TestBlocklistdGetsNoReportOfAPeerThatIsNotTCP: a datagram's source is
// whatever its sender wrote; blocklistd would read it from the socket and
// ban it.
func TestBlocklistdGetsNoReportOfAPeerThatIsNotTCP(t *testing.T) {
	bl := testkit.ListenBlocklistd(t, t.TempDir())
	sock, _ := connectedUDPPair(t, "udp4")
	fk := testkit.NewFakeDir(t)
	c := testkit.RunWithStdio(t, testkit.Iblock(t), fk, sock, sock, "-w", "/dev/null", "-b", "blocklistd", "-c", bl.Path)
	c.WantExit(t, exitFailure)
	wantOneError(t, c, wantDatagramRefused)
	bl.WantNone(t)
}

// TestBlocklistdThatIsNotThereIsAnErrorThatSaysSo: no socket, a socket
// nobody listens on (blocklistd died), a file, a stream socket, a
// datagram socket that takes datagrams from one peer only: each is exit
// 1 and an err line that names the problem.
func TestBlocklistdThatIsNotThereIsAnErrorThatSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		make       func(t *testing.T, path string)
	}{
		{"missing", "blocklistd is not running: no socket %s", func(*testing.T, string) {}},
		{"stale", "blocklistd is not running: nothing listens on %s", func(t *testing.T, path string) {
			unix.Close(boundSocket(t, path, unix.SOCK_DGRAM))
		}},
		{"file", "%s is not a socket, not blocklistd's", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"stream", "%s is a stream socket, not blocklistd's datagram socket", func(t *testing.T, path string) {
			s := boundSocket(t, path, unix.SOCK_STREAM)
			if err := unix.Listen(s, 8); err != nil {
				t.Fatal(err)
			}
		}},
		{"a client's socket", "%s takes datagrams from one other socket only, not blocklistd's", func(t *testing.T, path string) {
			s := boundSocket(t, path, unix.SOCK_DGRAM)
			other := testkit.ListenBlocklistd(t, t.TempDir())
			if err := unix.Connect(s, &unix.SockaddrUnix{Name: other.Path}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "blocklistd.sock")
			tc.make(t, path)
			r := runReporting(t, testkit.Loopback4, path, nil, "-w", "/dev/null")
			r.WantExit(t, exitFailure)
			r.WantLog(t, priErr, strings.ReplaceAll(tc.want, "%s", path))
		})
	}
}

func boundSocket(t *testing.T, path string, typ int) int {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	if err := unix.Bind(s, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	return s
}

// TestBlocklistdBusyRunningItsHelperStillGetsTheReport: blocklistd reads
// nothing while its helper runs, and its queue fills; iblock's send does
// not fail then, it waits for room.
func TestBlocklistdBusyRunningItsHelperStillGetsTheReport(t *testing.T) {
	bl := testkit.ListenBlocklistd(t, t.TempDir())
	queued := bl.Fill(t)
	done := make(chan reported, 1)
	since := testkit.Log(t).Count("blocking 127.0.0.1")
	go func() { done <- runReporting(t, testkit.Loopback4, bl.Path, nil, "-w", "/dev/null") }()
	// iblock says "blocking" just before it sends.
	testkit.WaitUntil(t, 10*time.Second, "iblock's blocking line", func() bool {
		return testkit.Log(t).Count("blocking 127.0.0.1") > since
	})
	report := func() bool {
		for {
			got, ok := bl.Receive(t, 100*time.Millisecond)
			if !ok {
				return false
			}
			if got.Fds == 1 {
				return got.Problem == "" && got.Type == testkit.BlAbuse
			}
		}
	}
	testkit.WaitUntil(t, 20*time.Second, "the report behind a full queue", report)
	r := <-done
	r.WantExit(t, exitOK)
	testkit.Report(t, "the report waited behind %d queued datagrams; iblock took %v", queued, r.Elapsed.Round(time.Millisecond))
}

// TestBlocklistdThatReadsNothingFailsTheReportInBoundedTime: a hung
// blocklistd makes iblock wait no longer than a hung firewall program
// would, and the err line says what happened.
func TestBlocklistdThatReadsNothingFailsTheReportInBoundedTime(t *testing.T) {
	testkit.Slow(t)
	bl := testkit.ListenBlocklistd(t, t.TempDir())
	bl.Fill(t)
	r := runReporting(t, testkit.Loopback4, bl.Path, nil, "-w", "/dev/null")
	r.WantExit(t, exitFailure)
	r.WantLog(t, priErr, "blocklistd at "+bl.Path+" read nothing for 10s, its queue is full")
	if r.Elapsed < 10*time.Second || r.Elapsed > 15*time.Second {
		t.Errorf("iblock gave up after %v, want 10 s", r.Elapsed)
	}
}
