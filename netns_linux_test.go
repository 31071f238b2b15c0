package main

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
	"path/filepath"
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
	server4     = "192.0.2.1"
	server6     = "2001:db8::1"
	trapPort    = "23"   // one of the examples' trap ports
	servicePort = "80"   // a port the server serves and that is no trap
	iblockPort  = "2507" // where the examples' inetd and socket listen
)

// Addresses of the scanner namespace. The bystanders share nothing with
// the scanners, not even the IPv6 /64; the neighbour shares the /64.
const (
	scanner4Addr   = "192.0.2.10"
	bystander4     = "192.0.2.20"
	scanner6Addr   = "2001:db8::10"
	neighbour6     = "2001:db8::11"
	bystander6     = "2001:db8:0:1::20"
	burstAddresses = "198.18.0.0/22" // local to the scanner namespace as a whole
)

var (
	netSeq         atomic.Int32
	staleRemoved   sync.Once
	namespaceNames = regexp.MustCompile(`^iblock-(?:srv|scn)-(\d+)-\d+$`)
)

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

type testNet struct {
	t               *testing.T
	server, scanner string
	// Locally administered MAC addresses of the two ends of the veth,
	// unique to the test net as its namespaces' names are: the kernel logs
	// them, and tells one test's lines from another's by them.
	serverMAC, scannerMAC string
	// room, when set, is the size the loaded examples' sets get instead
	// of theirs (setroom_linux_test.go).
	room int
}

// newTestNet creates the two namespaces, or skips without root and ip.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	needRoot(t)
	needTool(t, "ip")
	staleRemoved.Do(removeStaleNamespaces)
	id := strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(int(netSeq.Add(1)))
	n := &testNet{t: t, server: "iblock-srv-" + id, scanner: "iblock-scn-" + id}
	pid, seq := os.Getpid(), netSeq.Load()
	mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x", byte(pid>>16), byte(pid>>8), byte(pid), byte(seq))
	n.serverMAC, n.scannerMAC = mac+":01", mac+":02"
	for _, ns := range []string{n.server, n.scanner} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	}
	n.ipBatch(n.server,
		"link set lo up",
		"link add veth0 address "+n.serverMAC+" type veth peer name veth0 address "+n.scannerMAC+" netns "+n.scanner,
		"addr add "+server4+"/24 dev veth0",
		"addr add "+server6+"/48 dev veth0 nodad",
		"link set veth0 up",
		"route add 198.18.0.0/15 via "+scanner4Addr,
		// Neighbour discovery from a banned address would be dropped, and
		// the scanner namespace may answer from any of its addresses.
		"neigh add "+scanner6Addr+" lladdr "+n.scannerMAC+" dev veth0 nud permanent",
		"neigh add "+neighbour6+" lladdr "+n.scannerMAC+" dev veth0 nud permanent",
		"neigh add "+bystander6+" lladdr "+n.scannerMAC+" dev veth0 nud permanent")
	n.ipBatch(n.scanner,
		"link set lo up",
		"addr add "+scanner4Addr+"/24 dev veth0",
		"addr add "+bystander4+"/24 dev veth0",
		"addr add "+scanner6Addr+"/48 dev veth0 nodad",
		"addr add "+neighbour6+"/48 dev veth0 nodad",
		"addr add "+bystander6+"/48 dev veth0 nodad",
		"link set veth0 up",
		"neigh add "+server6+" lladdr "+n.serverMAC+" dev veth0 nud permanent",
		"route add local "+burstAddresses+" dev lo")
	return n
}

func (n *testNet) ipBatch(ns string, cmds ...string) {
	n.t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("ip -n %s: %v %s", ns, err, out)
	}
}

// command returns a command that runs in the server namespace.
func (n *testNet) command(argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.server}, argv...)...)
}

// run runs a command in the server namespace and returns its output.
func (n *testNet) run(argv ...string) (string, error) { return combined(n.command(argv...)) }

func (n *testNet) mustRun(argv ...string) string {
	n.t.Helper()
	return mustCombined(n.t, n.command(argv...))
}

// combined runs cmd and returns what it printed on stdout and stderr.
func combined(cmd *exec.Cmd) (string, error) {
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustCombined is combined that fails the test, with the whole command
// line (where it ran included) and its output, unless cmd succeeds.
func mustCombined(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	out, err := combined(cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// runInput runs a command in the server namespace with stdin from a file.
func (n *testNet) runInput(stdin string, argv ...string) {
	n.t.Helper()
	f, err := os.Open(stdin)
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close()
	cmd := n.command(argv...)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("%s < %s: %v\n%s", strings.Join(argv, " "), stdin, err, out)
	}
}

// start runs a command in the server namespace until the test ends.
func (n *testNet) start(argv ...string) *exec.Cmd {
	n.t.Helper()
	cmd := n.command(argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if n.t.Failed() {
			n.t.Logf("%s said:\n%s", argv[0], out.String())
		}
	})
	return cmd
}

// inNamespace runs f on a thread that has joined namespace ns. The thread
// stays locked and so ends with the goroutine: no other code runs there.
func inNamespace(ns string, f func() error) error {
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

// serve runs a service on servicePort in the server namespace: it greets,
// then echoes what it reads.
func (n *testNet) serve() {
	n.t.Helper()
	var ln net.Listener
	err := inNamespace(n.server, func() (err error) {
		ln, err = net.Listen("tcp", ":"+servicePort)
		return err
	})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
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
			}()
		}
	}()
}

// waitListening waits until something listens on port in the server
// namespace, without connecting: a connection there would be a ban.
func (n *testNet) waitListening(port string) {
	n.t.Helper()
	waitUntil(n.t, 10*time.Second, "nothing listens on port "+port+" in the server namespace", func() bool {
		v4, v6 := n.listeners(port)
		return v4 || v6
	})
}

// listeners reports whether IPv4 and IPv6 sockets listen on port in the
// server namespace.
func (n *testNet) listeners(port string) (v4, v6 bool) {
	hex := fmt.Sprintf(":%04X", mustAtoi(port))
	listening := func(table string) bool {
		data, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1], hex) && fields[3] == "0A" {
				return true
			}
		}
		return false
	}
	inNamespace(n.server, func() error {
		v4, v6 = listening("/proc/thread-self/net/tcp"), listening("/proc/thread-self/net/tcp6")
		return nil
	})
	return v4, v6
}

func mustAtoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return v
}

// dial connects from the scanner namespace, from address from.
func (n *testNet) dial(from, to, port string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(n.scanner, func() (err error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err = d.Dial("tcp", net.JoinHostPort(to, port))
		return err
	})
	return c, err
}

// touchTrap connects from one address to the trap port and waits until the
// trap closes the connection, which happens when iblock has exited. It
// returns how long that took; the scanner must have received nothing.
func (n *testNet) touchTrap(from, to string) time.Duration {
	n.t.Helper()
	return n.touchPort(from, to, trapPort)
}

// touchPort is touchTrap on any port.
func (n *testNet) touchPort(from, to, port string) time.Duration {
	n.t.Helper()
	start := time.Now()
	c, err := n.dial(from, to, port, 5*time.Second)
	if err != nil {
		n.t.Fatalf("%s cannot reach the trap on %s: %v", from, to, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := readAll(c)
	if err != nil {
		n.t.Fatalf("the trap did not close %s's connection: %v", from, err)
	}
	if len(got) != 0 {
		n.t.Errorf("%s received %q from the trap", from, got)
	}
	return time.Since(start)
}

// dropWait is how long a connection attempt waits for an answer before
// the test calls it dropped; the answered ones take well under 10 ms.
const dropWait = 700 * time.Millisecond

// reachesService reports whether from gets the service's greeting.
func (n *testNet) reachesService(from, to string) bool {
	n.t.Helper()
	c, err := n.dial(from, to, servicePort, dropWait)
	return err == nil && greeted(c)
}

// greeted reports whether the service's greeting arrives on c, and
// closes c.
func greeted(c net.Conn) bool {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(dropWait))
	buf := make([]byte, 8)
	k, _ := c.Read(buf)
	return string(buf[:k]) == "service\n"
}

// wantReach fails the test unless each address reaches the service as said.
func (n *testNet) wantReach(to string, reach map[string]bool) {
	n.t.Helper()
	for from, want := range reach {
		if got := n.reachesService(from, to); got != want {
			n.t.Errorf("%s reaches the service on %s: %v, want %v", from, to, got, want)
		}
	}
}

// openSession connects from an address to the service before any ban and
// returns the connection, greeted.
func (n *testNet) openSession(from, to string) net.Conn {
	n.t.Helper()
	c, err := n.dial(from, to, servicePort, 5*time.Second)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	if k, err := c.Read(buf); err != nil || string(buf[:k]) != "service\n" {
		n.t.Fatalf("no greeting: %q %v", buf[:k], err)
	}
	return c
}

// sessionAlive reports whether the service still echoes on c.
func sessionAlive(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(dropWait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	buf := make([]byte, 8)
	k, _ := c.Read(buf)
	return string(buf[:k]) == "ping\n"
}

// nftSet returns the elements of an nft set in the server namespace, each
// with what nft says after it (its timeout and expiry).
func (n *testNet) nftSet(set string) []string {
	n.t.Helper()
	out := n.mustRun("nft", "list", "set", "inet", "iblock", set)
	i := strings.Index(out, "elements = {")
	if i < 0 {
		return nil
	}
	body := out[i+len("elements = {"):]
	body = body[:strings.Index(body, "}")]
	var elems []string
	for _, e := range strings.Split(body, ",") {
		if e = strings.Join(strings.Fields(e), " "); e != "" {
			elems = append(elems, e)
		}
	}
	return elems
}

// ipsetSet returns the members of an ipset in the server namespace.
func (n *testNet) ipsetSet(set string) []string {
	n.t.Helper()
	out := n.mustRun("ipset", "list", set)
	i := strings.Index(out, "Members:\n")
	if i < 0 {
		n.t.Fatalf("ipset list %s: %s", set, out)
	}
	var members []string
	for _, line := range strings.Split(out[i+len("Members:\n"):], "\n") {
		if line = strings.TrimSpace(line); line != "" {
			members = append(members, line)
		}
	}
	return members
}

// wantElements fails the test unless the set holds exactly these
// addresses, each with a timeout (nft shows "expires", ipset "timeout").
func wantElements(t *testing.T, set string, got []string, addrs ...string) {
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

// exampleWithPaths returns an example file's text with the installed
// paths of iblock replaced by the test's.
func exampleWithPaths(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "/usr/local/bin/iblock", iblockBin)
}
