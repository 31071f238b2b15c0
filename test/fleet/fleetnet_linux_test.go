package fleet

// A fleet on one Ethernet: host A with the trap, hosts B and C with only a
// bouncer, the CrowdSec local API on a host of its own, and a scanner
// namespace that holds the scanners and the bystanders. Each namespace has
// one veth into a bridge in a sixth namespace, "lan". All are deleted when
// the test ends; those of a test process that was killed first are deleted
// by the next run, as the two-namespace tests' are: the names follow theirs.

import (
	"fmt"
	"os"
	"testing"

	"iblock/internal/testkit"
)

// The fleet's addresses. Host A is the server of the two-namespace tests,
// so that their helpers work on it. The fleet holds 192.0.2.0/29 and
// 2001:db8::/125 (fleetNetworks).
const (
	hostA4, hostA6 = testkit.Server4, testkit.Server6
	lapi4, lapi6   = "192.0.2.2", "2001:db8::2"
	hostB4, hostB6 = "192.0.2.3", "2001:db8::3"
	hostC4, hostC6 = "192.0.2.4", "2001:db8::4"
	lapiPort       = "8080"
)

// fleetNetworks are the fleet's addresses, as A's allowlist names them.
var fleetNetworks = []string{"192.0.2.0/29", "2001:db8::/125"}

// Scanners of a network: iblock -4 24 -6 64 bans theirs, with the
// neighbour in it. The bystanders of testkit.NewNet stay outside.
const (
	rangeScanner4, rangeNeighbour4 = "198.18.5.10", "198.18.5.11"
	rangeScanner6, rangeNeighbour6 = "2001:db8:5::10", "2001:db8:5::11"
)

// Scanners with a single part to play each: one that resets at once, one
// that comes while the local API is down, one banned twice, and a host
// that never sent a packet, in whose name the test forges a SYN.
const (
	resetScanner4, resetScanner6 = "192.0.2.16", "2001:db8::16"
	lapiDownScanner4             = "192.0.2.18"
	repeatScanner4               = "192.0.2.19"
	forgedSource4                = "192.0.2.30"
)

// fleetScanners are further scanners, one per ban the test times.
var fleetScanners = map[string][]string{
	"IPv4": {"192.0.2.12", "192.0.2.13", "192.0.2.14", "192.0.2.15"},
	"IPv6": {"2001:db8::12", "2001:db8::13", "2001:db8::14", "2001:db8::15"},
}

type fleetNet struct {
	t                              *testing.T
	lan, lapi, a, b, c, scanner    string
	macA, macB, macC, macL, macScn string
}

// newFleetNet creates the namespaces and the wires, or skips without root
// and ip.
func newFleetNet(t *testing.T) *fleetNet {
	t.Helper()
	testkit.NeedRoot(t)
	testkit.NeedTool(t, "ip")
	seq := testkit.Seq()
	ns := func(kind string) string { return testkit.NewNamespace(t, kind) }
	// MAC addresses unique to this test: the kernel log is shared by every
	// namespace, and A's MAC tells its lines from other tests'.
	mac := func(host int) string {
		p := os.Getpid()
		return fmt.Sprintf("02:f1:%02x:%02x:%02x:%02x", (p>>8)&0xff, p&0xff, seq&0xff, host)
	}
	f := &fleetNet{t: t, lan: ns("srv"), lapi: ns("srv"), a: ns("srv"), b: ns("srv"), c: ns("srv"),
		scanner: ns("scn"), macA: mac(1), macL: mac(2), macB: mac(3), macC: mac(4), macScn: mac(10)}
	f.wire()
	return f
}

// wire joins every namespace to the bridge and gives it its addresses.
// IPv6 neighbours are static: neighbour discovery from a banned address is
// dropped, and the scanner namespace may answer from any of its addresses.
func (f *fleetNet) wire() {
	f.t.Helper()
	f.IPBatch(f.lan, "link set lo up", "link add br0 type bridge", "link set br0 up")
	hosts := []struct{ ns, port, mac, v4, v6 string }{
		{f.a, "a", f.macA, hostA4, hostA6},
		{f.lapi, "lapi", f.macL, lapi4, lapi6},
		{f.b, "b", f.macB, hostB4, hostB6},
		{f.c, "c", f.macC, hostC4, hostC6},
	}
	scannerAddrs := []string{testkit.Scanner4, testkit.Bystander4, rangeScanner4, rangeNeighbour4, resetScanner4,
		lapiDownScanner4, repeatScanner4, testkit.Scanner6, testkit.Bystander6, rangeScanner6, rangeNeighbour6, resetScanner6,
		repeatScanner6}
	for _, fam := range fleetScanners {
		scannerAddrs = append(scannerAddrs, fam...)
	}
	scn := []string{"link set lo up", "link set veth0 up", "route add 198.18.0.0/15 dev veth0",
		"route add local 198.18.16.0/22 dev lo"} // the bulk scanners of fleet_trust_linux_test.go
	for _, a := range scannerAddrs {
		scn = append(scn, "addr add "+a+prefixLen(a)+" dev veth0 nodad")
	}
	f.plug(f.scanner, "scn", f.macScn)
	for _, h := range hosts {
		f.plug(h.ns, h.port, h.mac)
		cmds := []string{"link set lo up", "addr add " + h.v4 + "/24 dev veth0",
			"addr add " + h.v6 + "/32 dev veth0 nodad", "link set veth0 up",
			"route add 198.18.0.0/15 via " + testkit.Scanner4}
		for _, a := range scannerAddrs {
			if !isIPv4(a) {
				cmds = append(cmds, "neigh add "+a+" lladdr "+f.macScn+" dev veth0 nud permanent")
			}
		}
		f.IPBatch(h.ns, cmds...)
		scn = append(scn, "neigh add "+h.v6+" lladdr "+h.mac+" dev veth0 nud permanent")
	}
	f.IPBatch(f.scanner, scn...)
	f.IPBatch(f.lapi, "neigh add "+hostA6+" lladdr "+f.macA+" dev veth0 nud permanent",
		"neigh add "+hostB6+" lladdr "+f.macB+" dev veth0 nud permanent",
		"neigh add "+hostC6+" lladdr "+f.macC+" dev veth0 nud permanent")
}

// plug adds a veth from namespace ns, where it is veth0, into the bridge.
func (f *fleetNet) plug(ns, port, mac string) {
	f.t.Helper()
	f.IPBatch(f.lan,
		"link add name port-"+port+" type veth peer name veth0 address "+mac+" netns "+ns,
		"link set port-"+port+" master br0",
		"link set port-"+port+" up")
}

func (f *fleetNet) IPBatch(ns string, cmds ...string) {
	f.t.Helper()
	testkit.IPBatch(f.t, ns, cmds...)
}

// host returns the two-namespace view of a host of the fleet: its helpers
// (start, mustRun, dial from the scanner namespace…) work on it unchanged.
func (f *fleetNet) host(ns string) *testNet {
	return &testNet{testkit.NetOf(f.t, ns, f.scanner)}
}

func isIPv4(addr string) bool {
	for _, c := range addr {
		if c == ':' {
			return false
		}
	}
	return true
}

// prefixLen is the on-link prefix of the scanner namespace's addresses.
func prefixLen(addr string) string {
	switch {
	case !isIPv4(addr):
		return "/32"
	case addr[:4] == "198.":
		return "/32"
	}
	return "/24"
}
