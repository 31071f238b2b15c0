package testkit

// Two network namespaces joined by a veth pair: "server" runs the firewall,
// the trap and a service; "scanner" connects from documentation addresses.
// Both are deleted when the test ends, whatever happened; those of a test
// process that was killed before it could are deleted by the next run.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	Server4     = "192.0.2.1"
	Server6     = "2001:db8::1"
	TrapPort    = "23"   // one of the examples' trap ports
	ServicePort = "80"   // a port the server serves and that is no trap
	IblockPort  = "2507" // where the examples' inetd and socket listen
)

// Addresses of the scanner namespace. The bystanders share nothing with
// the scanners, not even the IPv6 /64; the neighbour shares the /64.
const (
	Scanner4       = "192.0.2.10"
	Bystander4     = "192.0.2.20"
	Scanner6       = "2001:db8::10"
	Neighbour6     = "2001:db8::11"
	Bystander6     = "2001:db8:0:1::20"
	burstAddresses = "198.18.0.0/22" // local to the scanner namespace as a whole
)

// Addresses the tests of the kernel-side rulesets forge: one the allow set holds, and one
// of a real host of the scanner namespace that never sent a packet itself.
const (
	Allowlisted4 = "203.0.113.7"
	Allowlisted6 = "2001:db8:ffff::7"
	Victim4      = "192.0.2.30"
	Victim6      = "2001:db8:0:2::30"
)

var (
	netSeq         atomic.Int32
	staleRemoved   sync.Once
	namespaceNames = regexp.MustCompile(`^iblock-[a-z][a-z-]*-(\d+)-\d+$`)
)

// Seq returns a number no other call in this test process returns: part
// of the names and MAC addresses that tell one test's traffic from
// another's.
func Seq() int { return int(netSeq.Add(1)) }

// NewNamespace creates a network namespace named iblock-KIND-PID-N (kind:
// lower-case letters and hyphens, "srv", "scn", "full-nft"), deleted when
// the test ends, and returns its name; it skips without root or ip. The
// namespaces of test processes that no longer run are deleted first.
func NewNamespace(t *testing.T, kind string) string {
	t.Helper()
	NeedNetAdmin(t)
	NeedTool(t, "ip")
	staleRemoved.Do(removeStaleNamespaces)
	ns := "iblock-" + kind + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(Seq())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v %s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	return ns
}

// removeStaleNamespaces deletes the namespaces of test processes that no
// longer run.
func removeStaleNamespaces() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		m := namespaceNames.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); os.IsNotExist(err) {
			exec.Command("ip", "netns", "delete", e.Name()).Run()
		}
	}
}

type Net struct {
	T               *testing.T
	Server, Scanner string
	// Locally administered MAC addresses of the two ends of the veth,
	// unique to the test net as its namespaces' names are: the kernel logs
	// them, and tells one test's lines from another's by them.
	ServerMAC, ScannerMAC string
	// Room, when set, is the size the loaded examples' sets get instead
	// of theirs (room_linux.go).
	Room int
}

// NewNet creates the two namespaces, or skips without root and ip.
func NewNet(t *testing.T) *Net {
	t.Helper()
	NeedNetAdmin(t)
	NeedTool(t, "ip")
	seq := Seq()
	n := &Net{T: t, Server: NewNamespace(t, "srv"), Scanner: NewNamespace(t, "scn")}
	pid := os.Getpid()
	mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x", byte(pid>>16), byte(pid>>8), byte(pid), byte(seq))
	n.ServerMAC, n.ScannerMAC = mac+":01", mac+":02"
	n.IPBatch(n.Server,
		"link set lo up",
		"link add veth0 address "+n.ServerMAC+" type veth peer name veth0 address "+n.ScannerMAC+" netns "+n.Scanner,
		"addr add "+Server4+"/24 dev veth0",
		"addr add "+Server6+"/48 dev veth0 nodad",
		"link set veth0 up",
		"route add 198.18.0.0/15 via "+Scanner4,
		// Neighbour discovery from a banned address would be dropped, and
		// the scanner namespace may answer from any of its addresses.
		"neigh add "+Scanner6+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent",
		"neigh add "+Neighbour6+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent",
		"neigh add "+Bystander6+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent")
	n.IPBatch(n.Scanner,
		"link set lo up",
		"addr add "+Scanner4+"/24 dev veth0",
		"addr add "+Bystander4+"/24 dev veth0",
		"addr add "+Scanner6+"/48 dev veth0 nodad",
		"addr add "+Neighbour6+"/48 dev veth0 nodad",
		"addr add "+Bystander6+"/48 dev veth0 nodad",
		"link set veth0 up",
		"neigh add "+Server6+" lladdr "+n.ServerMAC+" dev veth0 nud permanent",
		"route add local "+burstAddresses+" dev lo")
	return n
}

// NetOf returns the Net of a server and a scanner namespace that the test
// made and joined itself (NewNamespace, IPBatch), as the fleet's hosts
// on one LAN: a Net's methods work on it as on NewNet's. The scanner may
// be "" for a Net that only runs commands in the server namespace.
func NetOf(t *testing.T, server, scanner string) *Net {
	return &Net{T: t, Server: server, Scanner: scanner}
}

// IPBatch runs ip commands ("link set lo up", ...) in namespace ns.
func (n *Net) IPBatch(ns string, cmds ...string) { n.T.Helper(); IPBatch(n.T, ns, cmds...) }

// IPBatch runs ip commands ("link set lo up", ...) in namespace ns, in
// one ip -batch.
func IPBatch(t testing.TB, ns string, cmds ...string) {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s: %v %s", ns, err, out)
	}
}

// Command returns a command that runs in the server namespace.
func (n *Net) Command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Server}, argv...)...)
}

// Run runs a command in the server namespace and returns its output.
func (n *Net) Run(argv ...string) (string, error) { return Combined(n.Command(argv...)) }

func (n *Net) MustRun(argv ...string) string {
	n.T.Helper()
	return MustCombined(n.T, n.Command(argv...))
}

// Combined runs cmd and returns what it printed on stdout and stderr.
func Combined(cmd *exec.Cmd) (string, error) {
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustCombined is Combined that fails the test, with the whole command
// line (where it ran included) and its output, unless cmd succeeds.
func MustCombined(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	out, err := Combined(cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// RunInput runs a command in the server namespace with stdin from a file.
func (n *Net) RunInput(stdin string, argv ...string) {
	n.T.Helper()
	f, err := os.Open(stdin)
	if err != nil {
		n.T.Fatal(err)
	}
	defer f.Close()
	cmd := n.Command(argv...)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		n.T.Fatalf("%s < %s: %v\n%s", strings.Join(argv, " "), stdin, err, out)
	}
}

// Start runs a command in the server namespace until the test ends.
func (n *Net) Start(argv ...string) *exec.Cmd {
	n.T.Helper()
	cmd := n.Command(argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		n.T.Fatal(err)
	}
	n.T.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if n.T.Failed() {
			n.T.Logf("%s said:\n%s", argv[0], out.String())
		}
	})
	return cmd
}

// InNamespace runs f on a thread that has joined namespace ns. The thread
// stays locked and so ends with the goroutine: no other code runs there.
func InNamespace(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Serve runs a service on ServicePort in the server namespace: it greets,
// then echoes what it reads.
func (n *Net) Serve() {
	n.T.Helper()
	ListenIn(n.T, n.Server, ":"+ServicePort, func(c net.Conn) {
		defer c.Close()
		c.Write([]byte("service\n"))
		buf := make([]byte, 512)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:k])
		}
	})
}

// ListenIn listens on addr in namespace ns until the test ends, and
// hands each connection it accepts to handle, on a goroutine of its own.
func ListenIn(t *testing.T, ns, addr string, handle func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := InNamespace(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}

// WaitListening waits until something listens on port in the server
// namespace, without connecting: a connection there would be a ban.
func (n *Net) WaitListening(port string) {
	n.T.Helper()
	WaitUntil(n.T, 10*time.Second, "nothing listens on port "+port+" in the server namespace", func() bool {
		v4, v6 := n.Listeners(port)
		return v4 || v6
	})
}

// MustAtoi is strconv.Atoi for numbers the tests themselves wrote.
func MustAtoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Dial connects from the scanner namespace, from address from.
func (n *Net) Dial(from, to, port string, timeout time.Duration) (net.Conn, error) {
	return DialFrom(n.Scanner, from, to, port, timeout)
}

// DialFrom connects from namespace ns, from address from.
func DialFrom(ns, from, to, port string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := InNamespace(ns, func() (err error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err = d.Dial("tcp", net.JoinHostPort(to, port))
		return err
	})
	return c, err
}

// DialAs connects from namespace ns as the user uid, from address from
// and source port sport, as any local account can: only the calling
// thread changes user, and it ends with the call (InNamespace).
func DialAs(ns string, uid int, from string, sport int, to, port string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := InNamespace(ns, func() (err error) {
		// A raw setresuid changes this thread alone; Go's own would
		// change every thread of the test process.
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); errno != 0 {
			return errno
		}
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from), Port: sport}}
		c, err = d.Dial("tcp", net.JoinHostPort(to, port))
		return err
	})
	return c, err
}

// TouchTrap connects from one address to the trap port and waits until the
// trap closes the connection, which happens when iblock has exited. It
// returns how long that took; the scanner must have received nothing.
func (n *Net) TouchTrap(from, to string) time.Duration {
	n.T.Helper()
	return n.TouchPort(from, to, TrapPort)
}

// TouchPort is touchTrap on any port.
func (n *Net) TouchPort(from, to, port string) time.Duration {
	n.T.Helper()
	start := time.Now()
	c, err := n.Dial(from, to, port, 5*time.Second)
	if err != nil {
		n.T.Fatalf("%s cannot reach the trap on %s: %v", from, to, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := ReadAll(c)
	if err != nil {
		n.T.Fatalf("the trap did not close %s's connection: %v", from, err)
	}
	if len(got) != 0 {
		n.T.Errorf("%s received %q from the trap", from, got)
	}
	return time.Since(start)
}

// Handshake completes a handshake with the trap from an address of the
// scanner namespace, then closes at once, with a FIN, or with a reset as
// nmap -sT does.
func (n *Net) Handshake(from, to string, reset bool) error {
	c, err := n.Dial(from, to, TrapPort, 5*time.Second)
	if err != nil {
		return err
	}
	if reset {
		c.(*net.TCPConn).SetLinger(0)
	}
	c.Close()
	return nil
}

// ConnectThenClose is Handshake that fails the test when from cannot
// reach the trap.
func (n *Net) ConnectThenClose(t *testing.T, from, to string, reset bool) {
	t.Helper()
	if err := n.Handshake(from, to, reset); err != nil {
		t.Fatalf("%s cannot reach the trap: %v", from, err)
	}
}

// DropWait is how long a connection attempt waits for an answer before
// the test calls it dropped; the answered ones take well under 10 ms.
const DropWait = 700 * time.Millisecond

// ReachesService reports whether from gets the service's greeting.
func (n *Net) ReachesService(from, to string) bool {
	n.T.Helper()
	c, err := n.Dial(from, to, ServicePort, DropWait)
	return err == nil && Greeted(c)
}

// greeted reports whether the service's greeting arrives on c, and
// closes c.
func Greeted(c net.Conn) bool {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(DropWait))
	buf := make([]byte, 8)
	k, _ := c.Read(buf)
	return string(buf[:k]) == "service\n"
}

// WantReach fails the test unless each address reaches the service as said.
func (n *Net) WantReach(to string, reach map[string]bool) {
	n.T.Helper()
	for from, want := range reach {
		if got := n.ReachesService(from, to); got != want {
			n.T.Errorf("%s reaches the service on %s: %v, want %v", from, to, got, want)
		}
	}
}

// openSession connects from an address to the service before any ban and
// returns the connection, greeted.
func (n *Net) openSession(from, to string) net.Conn {
	n.T.Helper()
	c, err := n.Dial(from, to, ServicePort, 5*time.Second)
	if err != nil {
		n.T.Fatal(err)
	}
	n.T.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	if k, err := c.Read(buf); err != nil || string(buf[:k]) != "service\n" {
		n.T.Fatalf("no greeting: %q %v", buf[:k], err)
	}
	return c
}

// sessionAlive reports whether the service still echoes on c.
func sessionAlive(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(DropWait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	buf := make([]byte, 8)
	k, _ := c.Read(buf)
	return string(buf[:k]) == "ping\n"
}

// WantElements fails the test unless the set holds exactly these
// addresses, each with a timeout (nft shows "expires", ipset "timeout").
func WantElements(t *testing.T, set string, got []string, addrs ...string) {
	t.Helper()
	var names []string
	for _, e := range got {
		f := strings.Fields(strings.TrimSuffix(e, ","))
		names = append(names, f[0])
		if !strings.Contains(e, "expires") && !strings.Contains(e, "timeout") {
			t.Errorf("%s: element %q has no timeout", set, e)
		}
	}
	if strings.Join(names, " ") != strings.Join(addrs, " ") {
		t.Errorf("%s holds %q, want %q", set, names, addrs)
	}
}
