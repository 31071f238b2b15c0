package netns

// The candidates for the rule that proves a handshake before a long ban,
// each put in place of the shipped one, against the same forgeries and
// real handshakes: the measurements behind the choice the rulesets make.

import (
	"fmt"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// proofCandidate is one way to tell a completed handshake, as the matches
// of the rule that jumps to the long ban; fooled says whether forgeries
// must get a long ban with it (a rejected candidate), or none (a shipped
// one), or is empty when the outcome is only measured.
type proofCandidate struct {
	setup, name, matches, fooled string
}

const (
	nftProof     = "socket wildcard 0"
	ipsetProof   = "-m socket --restore-skmark -m mark ! --mark 0x1b10c"
	ipsetProofAt = "-A iblock_proof "
)

var proofCandidates = []proofCandidate{
	{"nft", "conntrack: established, an ACK (the former rule)", "ct state established ct direction original tcp flags & (fin | syn | rst | ack) == ack", ""},
	{"nft", "conntrack: assured", "ct status assured", ""},
	{"nft", "socket transparent 0", "socket transparent 0", "yes"},
	{"nft", "socket wildcard 0 (shipped)", nftProof, "no"},
	{"ipset", "conntrack: ESTABLISHED, an ACK (the former rule)", "--tcp-flags FIN,SYN,RST,ACK ACK -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL", ""},
	{"ipset", "-m socket", "-m socket", "yes"},
	{"ipset", "-m socket --restore-skmark, mark (shipped)", ipsetProof, "no"},
}

// load loads a kernel-side setup with its proof rule replaced.
func (c proofCandidate) load(t *testing.T, n *testNet) {
	t.Helper()
	if c.setup == "nft" {
		n.LoadNft("iblock.nft", func(text string) string {
			if !strings.Contains(text, nftProof+" jump") {
				t.Fatal("iblock.nft has no " + nftProof)
			}
			return strings.Replace(text, nftProof+" jump", c.matches+" jump", 1)
		})
		return
	}
	n.LoadIpset(func(name, text string) string {
		if name == "ipset.conf" {
			return text
		}
		if !strings.Contains(text, ipsetProofAt+ipsetProof) {
			t.Fatal(name + " has no " + ipsetProof)
		}
		matches := c.matches
		if strings.HasPrefix(matches, "--tcp-flags") {
			matches = "-p tcp " + matches
		}
		return strings.Replace(text, ipsetProofAt+ipsetProof, ipsetProofAt+matches, 1)
	})
}

// TestEachProofCandidateAgainstForgedHandshakes measures, for IPv4, which
// forged victims and which real handshakes each candidate bans for ten
// days, with a dual-stack listener on the wildcard address.
func TestEachProofCandidateAgainstForgedHandshakes(t *testing.T) {
	testkit.Slow(t)
	var table []string
	for _, c := range proofCandidates {
		t.Run(c.setup+": "+c.name, func(t *testing.T) {
			k := kernelSetups[0]
			if c.setup == "ipset" {
				k = kernelSetups[1]
			}
			n := newTestNet(t)
			n.RouteForgedVictims()
			c.load(t, n)
			n.ListenAndClose(":" + testkit.IblockPort)
			addrs := &scannerAddrs{n: n}
			for i, fg := range forgeries {
				n.forge(t, fg, testkit.ForgedVictim(i, false), testkit.Server4, uint16(43000+i))
				n.SendSYNs(t, testkit.Server4, 23, testkit.ForgedVictim(10+i, false))
			}
			// The real handshakes come after the forgeries, and so are
			// banned after them.
			real := 0
			for _, reset := range []bool{false, true} {
				from := addrs.fresh(false)
				n.ConnectThenClose(t, from, testkit.Server4, reset)
				if testkit.Eventually(testkit.DropWait, func() bool { return k.banLength(n, from) == "10d" }) {
					real++
				}
			}
			var fooled []string
			synOnly := 0 // a bare forged SYN, the first packet of most forgeries
			for i, fg := range forgeries {
				if k.banLength(n, testkit.ForgedVictim(i, false)) == "10d" {
					fooled = append(fooled, fg.name)
				}
				if k.banLength(n, testkit.ForgedVictim(10+i, false)) == "10d" {
					synOnly++
				}
			}
			row := fmt.Sprintf("%-6s %-50s forged SYNs alone banned long: %d of %d; forgeries banned long: %d of %d %q; real handshakes banned long: %d of 2",
				c.setup, c.name, synOnly, len(forgeries), len(fooled), len(forgeries), fooled, real)
			testkit.Report(t, "%s", row)
			table = append(table, row)
			switch {
			case c.fooled == "no" && (len(fooled) > 0 || synOnly > 0 || real != 2):
				t.Errorf("the shipped proof: %s", row)
			case c.fooled == "yes" && len(fooled)+synOnly == 0:
				t.Errorf("a candidate rejected as forgeable was not fooled: %s", row)
			}
		})
	}
	testkit.Report(t, "\n%s", strings.Join(table, "\n"))
}
