package testkit

// The process-level tests run the built iblock the way inetd does: a real
// TCP connection on loopback, the accepted socket as fds 0, 1 and 2. The
// firewall programs and doas are this test binary again, started under
// their names (see fakes.go); they record their argv. The log is read
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

// Main is the TestMain of a package that runs iblock: the test binary
// acts as a fake when started under a fake's name (see RunFakeIfNamed),
// and otherwise builds iblock once and runs the tests.
func Main(m *testing.M) {
	RunFakeIfNamed()
	runBurstIfAsked()
	os.Exit(Run(m))
}

// Run builds iblock, logging to the test syslogd, runs the tests from the
// module's root directory and returns their exit status. A TestMain that
// has modes of its own calls RunFakeIfNamed, then its modes, then Run.
func Run(m *testing.M) int {
	// The tests name the source's files from its root (examples/...,
	// iblock.8), whichever package they are in.
	root, err := ModuleRoot()
	if err != nil {
		return fatalSetup(err)
	}
	if err := os.Chdir(root); err != nil {
		return fatalSetup(err)
	}
	// The build happens before the tests, once: a build that fails stops
	// the test binary instead of failing each test.
	k, err := theKit()
	if err != nil {
		return fatalSetup(err)
	}
	defer k.tearDown()
	return m.Run()
}

// kit is what a test binary sets up once: a directory removed when the
// tests end, the test syslogd in it, and iblock built to log there.
type kit struct {
	dir    string
	log    *Syslogd
	iblock string
	// otherLog is a second iblock, built on first use, that logs to a
	// path where each test that needs another kind of syslogd (none, one
	// that never reads, a stream socket) puts its own; the test that
	// listens there holds otherLogTurn: those tests take turns.
	otherLog     func() (string, error)
	otherLogTurn sync.Mutex
}

// theKit sets the kit up on its first call; Run makes that call.
var theKit = sync.OnceValues(setUp)

func setUp() (*kit, error) {
	dir, err := os.MkdirTemp("", "iblock-test-")
	if err != nil {
		return nil, err
	}
	k := &kit{dir: dir, iblock: filepath.Join(dir, "iblock")}
	if k.log, err = ListenSyslog(filepath.Join(dir, "log")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The end-to-end tests run iblock as an unprivileged user too.
	err = errors.Join(os.Chmod(dir, 0o755), os.Chmod(k.log.Path, 0o666))
	if err == nil {
		err = Build(k.iblock, k.log.Path)
	}
	if err != nil {
		k.tearDown()
		return nil, err
	}
	k.otherLog = sync.OnceValues(func() (string, error) {
		bin := filepath.Join(dir, "iblock-other-log")
		return bin, Build(bin, k.otherLogSocket())
	})
	return k, nil
}

func (k *kit) tearDown() {
	k.log.Close()
	os.RemoveAll(k.dir)
}

func (k *kit) otherLogSocket() string { return filepath.Join(k.dir, "other-log") }

func kitOf(t testing.TB) *kit {
	t.Helper()
	k, err := theKit()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Iblock returns iblock as the test binary built it, logging to Log.
func Iblock(t testing.TB) string { t.Helper(); return kitOf(t).iblock }

// Log returns the test syslogd that Iblock logs to.
func Log(t testing.TB) *Syslogd { t.Helper(); return kitOf(t).log }

// IblockWithOtherLog returns an iblock and the path of its syslog socket,
// free for the test to listen on until it ends.
func IblockWithOtherLog(t *testing.T) (bin, socket string) {
	t.Helper()
	k := kitOf(t)
	bin, err := k.otherLog()
	if err != nil {
		t.Fatal(err)
	}
	socket = k.otherLogSocket()
	k.otherLogTurn.Lock()
	os.Remove(socket)
	t.Cleanup(func() {
		os.Remove(socket)
		k.otherLogTurn.Unlock()
	})
	return bin, socket
}

func fatalSetup(err error) int {
	os.Stderr.WriteString("test setup: " + err.Error() + "\n")
	return 1
}

// Build builds iblock as the Makefile does, with only the syslog socket
// changed (the link-time variable main.syslogSocket, see iblock.8, FILES).
func Build(out, syslogPath string) error {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w -X main.syslogSocket="+syslogPath, "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return errors.New("go build: " + err.Error() + "\n" + string(msg))
	}
	return nil
}

// Connection is what one run of iblock under the inetd stand-in did.
type Connection struct {
	Exit     int
	Pid      int
	Logs     []LogLine
	received []byte // what the scanner read before the connection closed
	Calls    []fakeCall
	Elapsed  time.Duration
}

// Scanner says where the trap listens and where the scanner connects from.
type Scanner struct {
	Listen string // "127.0.0.1:0", "[::1]:0", "[::]:0"
	From   string // source address, "" for the kernel's choice
	dial   string // address to dial, "" for the listener's own
}

var (
	Loopback4      = Scanner{Listen: "127.0.0.1:0"}
	Loopback6      = Scanner{Listen: "[::1]:0"}
	LoopbackMapped = Scanner{Listen: "[::]:0", dial: "127.0.0.1"}
)

// RunInetd accepts one connection from the scanner and runs bin with the
// accepted socket as fds 0, 1 and 2, as inetd's nowait services do.
func RunInetd(t *testing.T, bin string, fk *FakeDir, sc Scanner, args ...string) Connection {
	t.Helper()
	var c Connection
	received, err := AcceptAndRun(sc, func(sock *os.File) error {
		c = RunWithStdio(t, bin, fk, sock, sock, args...)
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

// AcceptAndRun connects a scanner to a trap listening as sc says, hands the
// accepted socket to serve, and returns what the scanner read until the
// connection closed.
func AcceptAndRun(sc Scanner, serve func(sock *os.File) error) ([]byte, error) {
	ln, err := net.Listen("tcp", sc.Listen)
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
	if sc.From != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sc.From)}
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

// RunWithStdio runs bin with stdin, and stdout and stderr, as given, and
// fails the test if it runs for 30 s or if a program it ran broke the
// contract (see FakeDir.Calls).
func RunWithStdio(t *testing.T, bin string, fk *FakeDir, stdin, out *os.File, args ...string) Connection {
	t.Helper()
	log := Log(t)
	since := log.mark(t)
	c, err := RunIblock(bin, fk, stdin, out, args...)
	if err != nil {
		t.Fatal(err)
	}
	c.Logs = log.linesOf(t, c.Pid, since)
	c.Calls = fk.Calls(t)
	return c
}

// RunIblock runs bin with the fakes' hostile environment and waits for it.
func RunIblock(bin string, fk *FakeDir, stdin, out *os.File, args ...string) (Connection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	cmd.ExtraFiles = fk.ExtraFiles
	cmd.Env = fk.Env()
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		return Connection{}, errors.New("iblock did not finish within 30s")
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return Connection{}, err
	}
	return Connection{Elapsed: time.Since(start), Pid: cmd.Process.Pid, Exit: cmd.ProcessState.ExitCode()}, nil
}

// WantExit fails the test unless iblock exited with code.
func (c Connection) WantExit(t *testing.T, code int) {
	t.Helper()
	if c.Exit != code {
		t.Errorf("exit status %d, want %d; log: %v", c.Exit, code, c.Logs)
	}
}

// WantLog fails the test unless a line at priority pri contains text.
func (c Connection) WantLog(t *testing.T, pri int, text string) {
	t.Helper()
	for _, l := range c.Logs {
		if l.Pri == pri && strings.Contains(l.Msg, text) {
			return
		}
	}
	t.Errorf("no log line at priority %d containing %q; log: %v", pri, text, c.Logs)
}

// WantArgv fails the test unless the fakes were run with exactly these argv.
func (c Connection) WantArgv(t *testing.T, want ...[]string) {
	t.Helper()
	var got [][]string
	for _, call := range c.Calls {
		got = append(got, call.Argv)
	}
	if !EqualArgvs(got, want) {
		t.Errorf("commands run:\n%s\nwant:\n%s", ShowArgvs(got), ShowArgvs(want))
	}
}

func EqualArgvs(a, b [][]string) bool {
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

func ShowArgvs(argvs [][]string) string {
	var b bytes.Buffer
	for _, argv := range argvs {
		b.WriteString("  " + strings.Join(argv, " ") + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// UnixSocketPair returns one end of a connected pair of unix sockets.
func UnixSocketPair(t *testing.T) *os.File {
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

// Report prints a measurement; go test shows it even when the test passes.
func Report(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf("%s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}

// Median is the middle of the times measured: one slow run on a busy
// machine does not move it.
func Median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ListeningSocket returns a TCP socket that listens and is connected to
// nothing: what inetd passes to a wait service.
func ListeningSocket(t *testing.T) *os.File {
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
