package netns

// The methods of testNet that only this package's tests use: the shipped
// setups loaded and started with the edits these tests make, the sets
// filled, the forged victims routed, and what the server's veth received.

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
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
