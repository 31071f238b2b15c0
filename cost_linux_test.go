package main

// What one ban costs iblock behind inetd, with the shipped rulesets, when
// the set already holds 100 000 addresses, against an empty set: the sets
// have no "interval" flag, so an add must not grow with their size.

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fillFrom is the first address of the fill: 198.18.64.0 and up, apart from
// the scanners' addresses (198.18.0.0/22 and costSources).
var fillFrom = netip.MustParseAddr("198.18.64.0")

// fillAddresses returns count consecutive addresses from fillFrom.
func fillAddresses(count int) []string {
	addrs := make([]string, count)
	a := fillFrom
	for i := range addrs {
		addrs[i] = a.String()
		a = a.Next()
	}
	return addrs
}

// fillNft adds count addresses to an nft set in one transaction.
func (n *testNet) fillNft(set string, count int) {
	n.t.Helper()
	var b strings.Builder
	addrs := fillAddresses(count)
	for len(addrs) > 0 {
		k := min(len(addrs), 10000)
		fmt.Fprintf(&b, "add element inet iblock %s { %s }\n", set, strings.Join(addrs[:k], ", "))
		addrs = addrs[k:]
	}
	n.mustRun("nft", "-f", writeTemp(n.t, "fill.nft", b.String()))
}

// fillIpset adds count addresses to an ipset with ipset restore.
func (n *testNet) fillIpset(set string, count int) {
	n.t.Helper()
	var b strings.Builder
	for _, a := range fillAddresses(count) {
		fmt.Fprintf(&b, "add %s %s\n", set, a)
	}
	n.runInput(writeTemp(n.t, "fill.ipset", b.String()), "ipset", "-exist", "restore")
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// costSources is where the scanners of the cost test come from, one /24
// each, so that every ban is new even with -4 24.
const costSources = "198.18.32.0/19"

func costSource(i, host int) string {
	return fmt.Sprintf("198.18.%d.%d", 32+i, host)
}

// costCase is one way of running iblock behind inetd.
type costCase struct {
	name, extra string
	load        func(*testNet)
	fill        func(*testNet, string, int)
	nft         bool
	element     func(source string) string // what a ban of source adds
}

var costCases = []costCase{
	{"nft", "", (*testNet).loadNftExample, (*testNet).fillNft, true,
		func(s string) string { return s }},
	{"nft -4 24", " -4 24", func(n *testNet) { n.loadNftEdited("iblock-only.nft", "define v4_mask = 255.255.255.0") },
		(*testNet).fillNft, true, func(s string) string { return nftElement(prefix24(s)) }},
	{"ipset", " -b ipset", (*testNet).loadIpsetExample, (*testNet).fillIpset, false,
		func(s string) string { return s }},
	{"ipset -4 24", " -b ipset -4 24", (*testNet).loadIpsetExample, (*testNet).fillIpset, false, prefix24},
}

func prefix24(addr string) string {
	return netip.PrefixFrom(netip.MustParseAddr(addr), 24).Masked().String()
}

// costSize is the number of addresses in the full set.
const costSize = 100000

// TestBanCostWithAHundredThousandBansIsWithinHalfAgainOfEmpty runs two
// servers side by side, one with an empty set and one with 100 000
// addresses, and bans scanners on each in turn through openbsd-inetd with
// the example lines: the median time to block on the full one must be
// within 1.5 times the empty one's. Prefix bans are checked to still cut
// off the scanner's neighbours.
func TestBanCostWithAHundredThousandBansIsWithinHalfAgainOfEmpty(t *testing.T) {
	const rounds = 15
	for _, tc := range costCases {
		t.Run(tc.name, func(t *testing.T) {
			nets := []*testNet{newTestNet(t), newTestNet(t)} // empty, full
			for i, n := range nets {
				n.room = 2 * costSize // the fill, and the bans on top
				tc.load(n)
				if i == 1 {
					tc.fill(n, "iblocked", costSize)
				}
				n.ipBatch(n.scanner, "route add local "+costSources+" dev lo")
				n.startInetd(tc.extra)
				n.serve()
			}
			took := [2][]time.Duration{}
			for r := 0; r < rounds; r++ {
				for k := range nets {
					k = (k + r) % 2 // take turns at going first
					took[k] = append(took[k], nets[k].touchTrap(costSource(r, 1), server4))
				}
			}
			empty, full := median(took[0]), median(took[1])
			ratio := float64(full) / float64(empty)
			report(t, "one ban through openbsd-inetd, median of %d: %v with an empty set, %v with %d addresses in it (%.2f×)",
				rounds, empty.Round(100*time.Microsecond), full.Round(100*time.Microsecond), costSize, ratio)
			if ratio > 1.5 {
				t.Errorf("a ban with %d addresses in the set costs %.2f× one with none, want at most 1.5×", costSize, ratio)
			}
			for k, n := range nets {
				n.wantBans(tc.nft, rounds, k*costSize, tc.element)
			}
			// The last scanner's neighbour in its /24 is cut off only by a /24 ban.
			neighbour := costSource(rounds-1, 2)
			nets[1].wantReach(server4, map[string]bool{costSource(rounds-1, 1): false, bystander4: true,
				neighbour: !strings.Contains(tc.extra, "-4 24")})
		})
	}
}

// wantBans fails the test unless the set iblocked holds the bans of the
// first rounds cost sources and the fill, and nothing else.
func (n *testNet) wantBans(nft bool, rounds, filled int, element func(string) string) {
	n.t.Helper()
	want := map[string]bool{}
	for r := 0; r < rounds; r++ {
		want[element(costSource(r, 1))] = false
	}
	total := 0
	n.scanSet(nft, "iblocked", func(addr string) {
		total++
		if _, ok := want[addr]; ok {
			want[addr] = true
		}
	})
	for e, found := range want {
		if !found {
			n.t.Errorf("%s is not in the set", e)
		}
	}
	if total != rounds+filled {
		n.t.Errorf("the set holds %d elements, want %d", total, rounds+filled)
	}
}

// scanSet lists an nft set of table inet iblock, or an ipset, in the
// server namespace and calls found with each element's address as it
// reads. Holding a listing of 100 000 in memory would raise the test
// process's peak memory, which every program it starts afterwards reports
// as its own (exec keeps the high-water mark of the memory it replaces).
func (n *testNet) scanSet(nft bool, set string, found func(addr string)) {
	n.t.Helper()
	argv := []string{"ipset", "list", set}
	if nft {
		argv = []string{"nft", "list", "set", "inet", "iblock", set}
	}
	cmd := n.command(argv...)
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		n.t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	in := false
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		switch {
		case nft && strings.HasPrefix(line, "elements = {"):
			in, line = true, strings.TrimPrefix(line, "elements = {")
		case !nft && line == "Members:":
			in, line = true, ""
		case !in:
			continue
		}
		for _, e := range strings.Split(strings.TrimSuffix(line, "}"), ",") {
			if f := strings.Fields(e); len(f) > 0 {
				found(f[0])
			}
		}
		in = in && !(nft && strings.HasSuffix(line, "}"))
	}
	if err := cmd.Wait(); err != nil {
		n.t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
}
