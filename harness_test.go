package main

// The process-level tests run the built iblock the way inetd does: a real
// TCP connection on loopback, the accepted socket as fds 0, 1 and 2. The
// firewall programs and doas are this test binary again, started under
// their names (see fake_test.go); they record their argv. The log is read
// from a syslog socket the test listens on.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	testDir   string // removed when the tests end
	iblockBin string // built to log to testLog
	testLog   *syslogListener
)

func TestMain(m *testing.M) {
	if fake, ok := fakes[filepath.Base(os.Args[0])]; ok {
		os.Exit(fake(os.Args[1:]))
	}
	if os.Getenv("IBLOCK_DEMO") == "1" {
		os.Exit(demo())
	}
	if spec := os.Getenv("IBLOCK_BURST"); spec != "" {
		os.Exit(runBurst(spec))
	}
	if via := os.Getenv("IBLOCK_SPAWN_VIA"); via != "" {
		os.Exit(spawnOnce(via))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if testDir, err = os.MkdirTemp("", "iblock-test-"); err != nil {
		return fatalSetup(err)
	}
	defer os.RemoveAll(testDir)
	testLog, err = listenSyslog(filepath.Join(testDir, "log"))
	if err != nil {
		return fatalSetup(err)
	}
	// The end-to-end tests run iblock as an unprivileged user too.
	if err := errors.Join(os.Chmod(testDir, 0o755), os.Chmod(testLog.path, 0o666)); err != nil {
		return fatalSetup(err)
	}
	defer testLog.close()
	iblockBin = filepath.Join(testDir, "iblock")
	if err := buildIblock(iblockBin, testLog.path); err != nil {
		return fatalSetup(err)
	}
	return m.Run()
}

// A second iblock, built on first use, logs to a path where each test that
// needs another kind of syslogd (none, one that never reads, a stream
// socket) puts its own; those tests take turns.
var (
	otherLog struct {
		build sync.Once
		bin   string
		err   error
		turn  sync.Mutex
	}
)

// iblockWithOtherLog returns that iblock and the path of its syslog socket,
// free for the test to listen on until it ends.
func iblockWithOtherLog(t *testing.T) (bin, socket string) {
	t.Helper()
	socket = filepath.Join(testDir, "other-log")
	otherLog.build.Do(func() {
		otherLog.bin = filepath.Join(testDir, "iblock-other-log")
		otherLog.err = buildIblock(otherLog.bin, socket)
	})
	if otherLog.err != nil {
		t.Fatal(otherLog.err)
	}
	otherLog.turn.Lock()
	os.Remove(socket)
	t.Cleanup(func() {
		os.Remove(socket)
		otherLog.turn.Unlock()
	})
	return otherLog.bin, socket
}

func fatalSetup(err error) int {
	os.Stderr.WriteString("test setup: " + err.Error() + "\n")
	return 1
}

// buildIblock builds iblock as the Makefile does, with only the syslog
// socket changed.
func buildIblock(out, syslogPath string) error {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w -X main.syslogSocket="+syslogPath, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return errors.New("go build: " + err.Error() + "\n" + string(msg))
	}
	return nil
}

// connection is what one run of iblock under the inetd stand-in did.
type connection struct {
	exit     int
	pid      int
	logs     []logLine
	received []byte // what the scanner read before the connection closed
	calls    []fakeCall
	elapsed  time.Duration
}

// scanner says where the trap listens and where the scanner connects from.
type scanner struct {
	listen string // "127.0.0.1:0", "[::1]:0", "[::]:0"
	from   string // source address, "" for the kernel's choice
	dial   string // address to dial, "" for the listener's own
}

var (
	scanner4      = scanner{listen: "127.0.0.1:0"}
	scanner6      = scanner{listen: "[::1]:0"}
	scannerMapped = scanner{listen: "[::]:0", dial: "127.0.0.1"}
)

// runInetd accepts one connection from the scanner and runs bin with the
// accepted socket as fds 0, 1 and 2, as inetd's nowait services do.
func runInetd(t *testing.T, bin string, fk *fakeDir, sc scanner, args ...string) connection {
	t.Helper()
	var c connection
	received, err := acceptAndRun(sc, func(sock *os.File) error {
		c = runWithStdio(t, bin, fk, sock, sock, args...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.received = received; len(received) != 0 {
		t.Errorf("the scanner received %d bytes: %q", len(received), received)
	}
	return c
}

// acceptAndRun connects a scanner to a trap listening as sc says, hands the
// accepted socket to serve, and returns what the scanner read until the
// connection closed.
func acceptAndRun(sc scanner, serve func(sock *os.File) error) ([]byte, error) {
	ln, err := net.Listen("tcp", sc.listen)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	target := ln.Addr().String()
	if sc.dial != "" {
		_, port, _ := net.SplitHostPort(target)
		target = net.JoinHostPort(sc.dial, port)
	}
	dialer := net.Dialer{Timeout: 5 * time.Second}
	if sc.from != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sc.from)}
	}
	client, err := dialer.Dial("tcp", target)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	accepted, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	sock, err := accepted.(*net.TCPConn).File()
	accepted.Close()
	if err != nil {
		return nil, err
	}
	err = serve(sock)
	sock.Close()
	if err != nil {
		return nil, err
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	received, err := io.ReadAll(client)
	if err != nil {
		return received, errors.New("the scanner's connection did not close: " + err.Error())
	}
	return received, nil
}

// runWithStdio runs bin with stdin, and stdout and stderr, as given, and
// fails the test if it runs for 30 s or if a program it ran broke the
// contract (see fakeDir.calls).
func runWithStdio(t *testing.T, bin string, fk *fakeDir, stdin, out *os.File, args ...string) connection {
	t.Helper()
	since := testLog.mark(t)
	c, err := runIblock(bin, fk, stdin, out, args...)
	if err != nil {
		t.Fatal(err)
	}
	c.logs = testLog.linesOf(t, c.pid, since)
	c.calls = fk.calls(t)
	return c
}

// runIblock runs bin with the fakes' hostile environment and waits for it.
func runIblock(bin string, fk *fakeDir, stdin, out *os.File, args ...string) (connection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	cmd.ExtraFiles = fk.extraFiles
	cmd.Env = fk.env()
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		return connection{}, errors.New("iblock did not finish within 30s")
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return connection{}, err
	}
	return connection{elapsed: time.Since(start), pid: cmd.Process.Pid, exit: cmd.ProcessState.ExitCode()}, nil
}

// wantExit fails the test unless iblock exited with code.
func (c connection) wantExit(t *testing.T, code int) {
	t.Helper()
	if c.exit != code {
		t.Errorf("exit status %d, want %d; log: %v", c.exit, code, c.logs)
	}
}

// wantLog fails the test unless a line at priority pri contains text.
func (c connection) wantLog(t *testing.T, pri int, text string) {
	t.Helper()
	for _, l := range c.logs {
		if l.pri == pri && strings.Contains(l.msg, text) {
			return
		}
	}
	t.Errorf("no log line at priority %d containing %q; log: %v", pri, text, c.logs)
}

// wantArgv fails the test unless the fakes were run with exactly these argv.
func (c connection) wantArgv(t *testing.T, want ...[]string) {
	t.Helper()
	var got [][]string
	for _, call := range c.calls {
		got = append(got, call.Argv)
	}
	if !equalArgvs(got, want) {
		t.Errorf("commands run:\n%s\nwant:\n%s", showArgvs(got), showArgvs(want))
	}
}

func equalArgvs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func showArgvs(argvs [][]string) string {
	var b bytes.Buffer
	for _, argv := range argvs {
		b.WriteString("  " + strings.Join(argv, " ") + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// unixSocketPair returns one end of a connected pair of unix sockets.
func unixSocketPair(t *testing.T) *os.File {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { other.Close() })
	f := os.NewFile(uintptr(fds[0]), "unix")
	t.Cleanup(func() { f.Close() })
	return f
}

// report prints a measurement; go test shows it even when the test passes.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf("%s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}

// median is the middle of the times measured: one slow run on a busy
// machine does not move it.
func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// listeningSocket returns a TCP socket that listens and is connected to
// nothing: what inetd passes to a wait service.
func listeningSocket(t *testing.T) *os.File {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
