package netns

// Real scanners against each Linux setup shipped: Debian's nmap, masscan
// and zmap, and a client that waits for a login prompt, each from an
// address of its own, then a real service on a port that is no trap: the
// scanner must be cut off from it and a bystander not. The table of what
// each setup catches is the README's.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// portScan is a port scan run from the scanner namespace.
type portScan struct {
	name string
	v6   bool // it scans IPv6 too
	argv func(t *testing.T, n *testNet, src, dst string) []string
}

// nmapScan is an nmap scan of one trap port and the service port, fast
// and bounded, from source address src.
func nmapScan(kind string) func(t *testing.T, n *testNet, src, dst string) []string {
	return func(t *testing.T, _ *testNet, src, dst string) []string {
		// -sV waits for answers a banned scanner never gets: 5 s is plenty.
		argv := []string{testkit.NeedTool(t, "nmap"), kind, "-n", "-Pn", "-T5", "--max-retries", "1", "--host-timeout", "5s",
			"-e", "veth0", "-S", src, "-p", testkit.TrapPort + "," + testkit.ServicePort, dst}
		if strings.Contains(dst, ":") {
			argv = append(argv, "-6")
		}
		return argv
	}
}

func masscanScan(t *testing.T, n *testNet, src, dst string) []string {
	return []string{testkit.NeedTool(t, "masscan"), dst, "-p" + testkit.TrapPort + "," + testkit.ServicePort, "--rate", "1000", "--wait", "1",
		"--adapter", "veth0", "--adapter-ip", src, "--router-mac", n.ServerMAC}
}

// zmapScan scans one port; zmap's default blocklist holds 198.18.0.0/15.
func zmapScan(t *testing.T, n *testNet, src, dst string) []string {
	return []string{testkit.NeedTool(t, "zmap"), "-p", testkit.TrapPort, "-i", "veth0", "-S", src, "-G", n.ServerMAC,
		"-b", "/dev/null", "-r", "100", "-c", "1", "-q", dst + "/32"}
}

// nmapUDPScan is nmap -sU of one of the rulesets' UDP trap ports.
func nmapUDPScan(t *testing.T, n *testNet, src, dst string) []string {
	argv := nmapScan("-sU")(t, n, src, dst)
	for i, a := range argv {
		if a == "-p" {
			argv[i+1] = strconv.Itoa(udpTrapPort)
		}
	}
	return argv
}

var scanners = []portScan{
	{"nmap -sT", true, nmapScan("-sT")},
	{"nmap -sS", true, nmapScan("-sS")},
	{"masscan", true, masscanScan},
	{"zmap", false, zmapScan},
	{"nmap -sV", true, nmapScan("-sV")},
	{"a client that waits for a prompt", true, nil},
	{"nmap -sF", true, nmapScan("-sF")},
	{"nmap -sN", true, nmapScan("-sN")},
	{"nmap -sX", true, nmapScan("-sX")},
	{"nmap -sM", true, nmapScan("-sM")},
	{"nmap -sA", true, nmapScan("-sA")},
	{"nmap -sW", true, nmapScan("-sW")},
	{"nmap -sU", true, nmapUDPScan},
}

// holdConnection is a client that connects to the trap and waits for a
// prompt, as bots that try passwords do, until the trap closes.
func (n *testNet) holdConnection(src, dst string) ([]byte, error) {
	c, err := n.Dial(src, dst, testkit.TrapPort, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return testkit.ReadAll(c)
}

// linuxSetup is one way to run the trap on Linux, as shipped.
type linuxSetup struct {
	name  string
	start func(n *testNet, allowFile string)
	// banned tells how long addr is banned for: "1h", "10d" or "".
	banned func(n *testNet, addr string) string
}

// banLength says which of a kernel-side setup's sets hold addr.
func (k kernelSetup) banLength(n *testNet, addr string) string {
	v6 := strings.Contains(addr, ":")
	switch {
	case k.has(n, testkit.IblockSet(n.T, k.name, addr), addr):
		return "10d"
	case k.has(n, testkit.SetName(k.short, v6), addr):
		return "1h"
	}
	return ""
}

func kernelLinuxSetup(k kernelSetup) linuxSetup {
	return linuxSetup{"kernel-side " + k.name,
		// iblock behind inetd completes the handshakes; its allowlist is
		// the allow set's, as the README says.
		func(n *testNet, allowFile string) { k.Start(n, " -w "+allowFile) },
		k.banLength}
}

var linuxSetups = []linuxSetup{
	kernelLinuxSetup(kernelSetups[0]),
	kernelLinuxSetup(kernelSetups[1]),
	{"iblock behind inetd",
		func(n *testNet, allowFile string) {
			n.LoadNftExample()
			n.StartInetd(" -w " + allowFile)
			n.Serve()
		},
		func(n *testNet, addr string) string {
			if n.NftHas(testkit.IblockSet(n.T, "nft", addr), addr) {
				return "10d"
			}
			return ""
		}},
}

// caught is what the scanners test expects, per setup and scan: how long
// the scanner is banned for, "" when it goes free. The README's table
// repeats it.
var caught = map[string]map[string]string{
	"kernel-side nft": {
		"nmap -sT": "10d", "nmap -sS": "1h", "masscan": "1h", "zmap": "1h", "nmap -sV": "10d", "a client that waits for a prompt": "10d",
		"nmap -6 -sT": "10d", "nmap -6 -sS": "1h", "nmap -6 -sV": "10d", "a client that waits for a prompt, IPv6": "10d",
		"masscan, IPv6": "1h",
		"nmap -sF":      "1h", "nmap -sN": "1h", "nmap -sX": "1h", "nmap -sM": "1h", "nmap -sA": "1h", "nmap -sW": "1h", "nmap -sU": "1h",
		"nmap -6 -sF": "1h", "nmap -6 -sN": "1h", "nmap -6 -sX": "1h", "nmap -6 -sM": "1h", "nmap -6 -sA": "1h", "nmap -6 -sW": "1h", "nmap -6 -sU": "1h",
	},
	"iblock behind inetd": {
		"nmap -sT": "", "nmap -sS": "", "masscan": "", "zmap": "", "nmap -sV": "10d", "a client that waits for a prompt": "10d",
		"nmap -6 -sT": "", "nmap -6 -sS": "", "nmap -6 -sV": "10d", "a client that waits for a prompt, IPv6": "10d",
		"masscan, IPv6": "",
		"nmap -sF":      "", "nmap -sN": "", "nmap -sX": "", "nmap -sM": "", "nmap -sA": "", "nmap -sW": "", "nmap -sU": "",
		"nmap -6 -sF": "", "nmap -6 -sN": "", "nmap -6 -sX": "", "nmap -6 -sM": "", "nmap -6 -sA": "", "nmap -6 -sW": "", "nmap -6 -sU": "",
	},
}

func init() { caught["kernel-side ipset"] = caught["kernel-side nft"] }

// scanName is the scan's name in the table: with -6 or ", IPv6" for IPv6.
func scanName(s portScan, v6 bool) string {
	switch {
	case !v6:
		return s.name
	case strings.HasPrefix(s.name, "nmap "):
		return "nmap -6 " + strings.TrimPrefix(s.name, "nmap ")
	}
	return s.name + ", IPv6"
}

// scannerAddrs hands out a fresh address per scan: IPv4 from the scanner
// namespace's local 198.18.0.0/22, IPv6 added to it with a static
// neighbour entry on the server, each in a /64 of its own, since the
// kernel-side rulesets short-ban an IPv6 source's /64.
type scannerAddrs struct {
	n    *testNet
	next int
}

func (a *scannerAddrs) fresh(v6 bool) string {
	a.next++
	if !v6 {
		return fmt.Sprintf("198.18.2.%d", a.next)
	}
	addr := fmt.Sprintf("2001:db8:0:%x::3", 0x300+a.next)
	a.n.IPBatch(a.n.Scanner, "addr add "+addr+"/48 dev veth0 nodad")
	a.n.IPBatch(a.n.Server, "neigh add "+addr+" lladdr "+a.n.ScannerMAC+" dev veth0 nud permanent")
	return addr
}

// TestRealScannersAreCaughtAsTheTableSays runs every scanner against every
// setup and compares what was banned, and for how long, with caught. Then
// an allowlisted address scans, and loopback connects to the trap: neither
// is banned. The setups run side by side: the scanners mostly wait.
func TestRealScannersAreCaughtAsTheTableSays(t *testing.T) {
	for _, setup := range linuxSetups {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNet(t)
			allowFile := testkit.WriteTemp(t, "allow", "127.0.0.0/8\n::1\n"+testkit.Allowlisted4+"\n"+testkit.Allowlisted6+"\n")
			setup.start(n, allowFile)
			addrs := &scannerAddrs{n: n}
			got := map[string]string{}
			for _, s := range scanners {
				for _, v6 := range []bool{false, true} {
					if v6 && !s.v6 {
						continue
					}
					name, src := scanName(s, v6), addrs.fresh(v6)
					got[name] = n.scan(t, s, src, serverOf(v6), setup.banned)
				}
			}
			testkit.Report(t, "\n%s", formatCaught(got))
			if want := caught[setup.name]; formatCaught(got) != formatCaught(want) {
				t.Errorf("caught:\n%s\nwant:\n%s", formatCaught(got), formatCaught(want))
			}
			n.wantNeverBanned(t, setup)
		})
	}
}

func serverOf(v6 bool) string {
	if v6 {
		return testkit.Server6
	}
	return testkit.Server4
}

// wantNeverBanned scans from the allowlisted addresses, given to the
// scanner namespace, and connects to the trap from loopback: nobody is
// banned, everybody still reaches the service.
func (n *testNet) wantNeverBanned(t *testing.T, setup linuxSetup) {
	n.IPBatch(n.Scanner, "addr add "+testkit.Allowlisted4+"/32 dev veth0", "addr add "+testkit.Allowlisted6+"/128 dev veth0 nodad")
	n.IPBatch(n.Server, "route add 203.0.113.0/24 via "+testkit.Scanner4, "route add 2001:db8:ffff::/48 via "+testkit.Scanner6)
	for _, v6 := range []bool{false, true} {
		from := map[bool]string{false: testkit.Allowlisted4, true: testkit.Allowlisted6}[v6]
		for _, s := range []portScan{scanners[1], scanners[len(scanners)-1]} { // nmap -sS, the waiting client
			if got := n.scan(t, s, from, serverOf(v6), setup.banned); got != "" {
				t.Errorf("%s from the allowlisted %s: banned %s", s.name, from, got)
			}
		}
	}
	for _, lo := range []string{"127.0.0.1", "::1"} {
		var reached bool
		err := testkit.InNamespace(n.Server, func() error {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(lo, testkit.IblockPort), 5*time.Second)
			if err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			testkit.ReadAll(c) // until the trap closes it
			c.Close()
			reached = dialGreets(lo)
			return nil
		})
		if err != nil || !reached || setup.banned(n, lo) != "" {
			t.Errorf("loopback %s: %v, reaches the service %v, banned %q", lo, err, reached, setup.banned(n, lo))
		}
	}
}

// dialGreets reports whether the service greets a connection to addr,
// from the namespace of the calling thread.
func dialGreets(addr string) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, testkit.ServicePort), testkit.DropWait)
	return err == nil && testkit.Greeted(c)
}

// scan runs one scan from src and returns how long src is banned for. A
// banned scanner must be cut off from the service, an unbanned one not,
// and a bystander must still reach it.
func (n *testNet) scan(t *testing.T, s portScan, src, dst string, banned func(*testNet, string) string) string {
	t.Helper()
	start := time.Now()
	var argv []string
	var out []byte
	var err error
	if s.argv == nil {
		argv = []string{"connect and wait from", src}
		out, err = n.holdConnection(src, dst)
	} else {
		argv = s.argv(t, n, src, dst)
		out, err = exec.Command("ip", append([]string{"netns", "exec", n.Scanner}, argv...)...).CombinedOutput()
	}
	if err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	var length string
	// iblock bans a moment after the connection, the kernel at once.
	testkit.Eventually(2*time.Second, func() bool {
		length = banned(n, src)
		return length != ""
	})
	t.Logf("%s: %v, banned %q", strings.Join(argv, " "), time.Since(start).Round(time.Millisecond), length)
	bystander := map[bool]string{false: testkit.Bystander4, true: testkit.Bystander6}[strings.Contains(dst, ":")]
	n.WantReach(dst, map[string]bool{src: length == "", bystander: true})
	return length
}

func formatCaught(m map[string]string) string {
	var lines []string
	for name, length := range m {
		if length == "" {
			length = "not banned"
		}
		lines = append(lines, fmt.Sprintf("  %-40s %s", name, length))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestReadmeScannerTableIsTheTestsTable compares doc/linux.md's table of
// what each Linux setup catches with caught, which the scanners test asserts.
func TestReadmeScannerTableIsTheTestsTable(t *testing.T) {
	data, err := os.ReadFile("doc/linux.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| scan | ")
	if !ok {
		t.Fatal("doc/linux.md has no table of scans")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	rows := strings.Split(table, "\n")
	columns := strings.Split(strings.Trim(rows[0], "| "), " | ")
	got := map[string]map[string]string{}
	for _, row := range rows[2:] {
		cells := strings.Split(strings.Trim(row, "| "), " | ")
		if len(cells) != len(columns)+1 {
			t.Fatalf("doc/linux.md row %q has %d cells, want %d", row, len(cells), len(columns)+1)
		}
		for i, setup := range columns {
			if got[setup] == nil {
				got[setup] = map[string]string{}
			}
			length := strings.ReplaceAll(cells[i+1], " ", "")
			if length == "notbanned" {
				length = ""
			}
			got[setup][strings.ReplaceAll(cells[0], "`", "")] = length
		}
	}
	for _, setup := range linuxSetups {
		if a, b := formatCaught(got[setup.name]), formatCaught(caught[setup.name]); a != b {
			t.Errorf("doc/linux.md, %s:\n%s\nthe test:\n%s", setup.name, a, b)
		}
	}
}
