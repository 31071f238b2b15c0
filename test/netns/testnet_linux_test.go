package netns

// The methods of testNet that only this package's tests use: the shipped
// setups loaded and started with the edits these tests make, the sets
// filled, the forged victims routed, and what the server's veth received.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// StartInetd runs Debian's openbsd-inetd in the server namespace with the
// Linux example's lines, each given extra arguments.
func (n *testNet) StartInetd(extra string) {
	n.T.Helper()
	n.StartInetdEdited(func(line string) string { return line + extra })
}

// LoadNftEdited loads an example ruleset with each "define name = value"
// given replacing the file's definition of that name.
func (n *testNet) LoadNftEdited(name string, defines ...string) {
	n.T.Helper()
	n.LoadNft(name, func(text string) string {
		for _, d := range defines {
			key, _, _ := strings.Cut(d, "=")
			line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=.*$`)
			if !line.MatchString(text) {
				n.T.Fatalf("%s has no %s", name, key)
			}
			text = line.ReplaceAllLiteralString(text, d)
		}
		return text
	})
}

// LoadIpsetExample creates the sets and rules of the ipset examples for
// iblock alone: without their *mangle part, as their comment says.
func (n *testNet) LoadIpsetExample() {
	n.T.Helper()
	mangle := regexp.MustCompile(`(?s)\*mangle\n.*?\nCOMMIT\n`)
	n.LoadIpset(func(name, text string) string {
		if name == "ipset.conf" {
			return text
		}
		if !mangle.MatchString(text) {
			n.T.Fatalf("%s has no part to leave out", name)
		}
		return mangle.ReplaceAllString(text, "")
	})
}

// FillNft adds addrs to a set of table inet iblock, ten thousand an
// element statement, in one nft run.
func (n *testNet) FillNft(set string, addrs []string) {
	n.T.Helper()
	var b strings.Builder
	for len(addrs) > 0 {
		k := min(len(addrs), 10000)
		fmt.Fprintf(&b, "add element inet iblock %s { %s }\n", set, strings.Join(addrs[:k], ", "))
		addrs = addrs[k:]
	}
	n.MustRun("nft", "-f", testkit.WriteTemp(n.T, "fill.nft", b.String()))
}

// FillIpset adds addrs to an ipset with ipset restore.
func (n *testNet) FillIpset(set string, addrs []string) {
	n.T.Helper()
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&b, "add %s %s\n", set, a)
	}
	n.RunInput(testkit.WriteTemp(n.T, "fill.ipset", b.String()), "ipset", "-exist", "restore")
}

// ListenAndClose listens on addr in the server namespace and closes each
// connection it accepts, as the trap does once it has banned.
func (n *testNet) ListenAndClose(addr string) {
	n.T.Helper()
	testkit.ListenIn(n.T, n.Server, addr, func(c net.Conn) { c.Close() })
}

// RouteForgedVictims routes the forged victims' networks from the server
// to the scanner namespace, which drops what it receives for them.
func (n *testNet) RouteForgedVictims() {
	n.T.Helper()
	n.IPBatch(n.Server, "route add 203.0.113.0/24 via "+testkit.Scanner4, "route add 2001:db8:f0::/48 via "+testkit.Scanner6)
}

// Received returns how many packets the server's veth received and how
// many it dropped: a forgery counts only if its segments arrived.
func (n *testNet) Received(t *testing.T) (packets, dropped uint64) {
	t.Helper()
	var links []struct {
		Stats struct {
			RX struct{ Packets, Dropped uint64 } `json:"rx"`
		} `json:"stats64"`
	}
	out := testkit.MustCombined(t, exec.Command("ip", "-n", n.Server, "-j", "-s", "link", "show", "dev", "veth0"))
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -s link: %v %s", err, out)
	}
	return links[0].Stats.RX.Packets, links[0].Stats.RX.Dropped
}

// StartInetdEdited runs openbsd-inetd with the Linux example's lines, the
// installed paths replaced (exampleFiles), and each line edited.
func (n *testNet) StartInetdEdited(edit func(line string) string) {
	n.T.Helper()
	inetd := testkit.NeedTool(n.T, "inetd")
	var conf strings.Builder
	for _, line := range testkit.ExampleLines(n.T, "linux/inetd.conf") {
		conf.WriteString(edit(exampleFiles(n.T).Replace(line)) + "\n")
	}
	path := filepath.Join(n.T.TempDir(), "inetd.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		n.T.Fatal(err)
	}
	n.Start(inetd, "-d", path)
	n.WaitListening(testkit.IblockPort)
}

// StartSocketActivate runs the command line of iblock@.service, after the
// wrapper if any, under systemd-socket-activate on the socket of
// iblock.socket, which must be one dual-stack IPv6 socket. It returns the
// socket's settings.
func (n *testNet) StartSocketActivate(wrapper ...string) map[string]string {
	n.T.Helper()
	activate := testkit.NeedTool(n.T, "systemd-socket-activate")
	socket := testkit.UnitSettings(n.T, "linux/iblock.socket")
	service := testkit.UnitSettings(n.T, "linux/iblock@.service")
	if socket["Accept"] != "yes" || service["StandardInput"] != "socket" {
		n.T.Fatalf("units: %v %v", socket, service)
	}
	argv := append([]string{activate, "--accept", "--inetd", "-l", socket["ListenStream"]}, wrapper...)
	argv = append(argv, strings.Fields(exampleFiles(n.T).Replace(service["ExecStart"]))...)
	n.Start(argv...)
	n.WaitListening(testkit.IblockPort)
	if v4, v6 := n.Listeners(testkit.IblockPort); v4 || !v6 {
		n.T.Fatalf("want one dual-stack IPv6 socket, got IPv4 %v, IPv6 %v", v4, v6)
	}
	return socket
}

// exampleFiles replaces the installed paths the examples' command lines
// name, iblock's and its allow file's, with the test's iblock and the
// example allow file.
func exampleFiles(t testing.TB) *strings.Replacer {
	return strings.NewReplacer("/usr/local/bin/iblock", testkit.Iblock(t), "/etc/iblock/allow", testkit.SourcePath("examples/linux/allow"))
}
