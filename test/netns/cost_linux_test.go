package netns

// What one ban costs iblock behind inetd, with the shipped rulesets, when
// the set already holds 100 000 addresses, against an empty set: the sets
// have no "interval" flag, so an add must not grow with their size.

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
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

// fillNft adds count fill addresses to an nft set.
func (n *testNet) fillNft(set string, count int) { n.FillNft(set, fillAddresses(count)) }

// fillIpset adds count fill addresses to an ipset.
func (n *testNet) fillIpset(set string, count int) { n.FillIpset(set, fillAddresses(count)) }

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
	{"nft", "", (*testNet).LoadNftExample, (*testNet).fillNft, true,
		func(s string) string { return s }},
	{"nft -4 24", " -4 24", func(n *testNet) { n.LoadNftEdited("iblock-only.nft", "define v4_mask = 255.255.255.0") },
		(*testNet).fillNft, true, func(s string) string { return netip.MustParsePrefix(prefix24(s)).Addr().String() }},
	{"ipset", " -b ipset", (*testNet).LoadIpsetExample, (*testNet).fillIpset, false,
		func(s string) string { return s }},
	{"ipset -4 24", " -b ipset -4 24", (*testNet).LoadIpsetExample, (*testNet).fillIpset, false, prefix24},
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
				n.Room = 2 * costSize // the fill, and the bans on top
				tc.load(n)
				if i == 1 {
					tc.fill(n, "iblocked", costSize)
				}
				n.IPBatch(n.Scanner, "route add local "+costSources+" dev lo")
				n.StartInetd(tc.extra)
				n.Serve()
			}
			took := [2][]time.Duration{}
			for r := 0; r < rounds; r++ {
				for k := range nets {
					k = (k + r) % 2 // take turns at going first
					took[k] = append(took[k], nets[k].TouchTrap(costSource(r, 1), testkit.Server4))
				}
			}
			empty, full := testkit.Median(took[0]), testkit.Median(took[1])
			ratio := float64(full) / float64(empty)
			testkit.Report(t, "one ban through openbsd-inetd, median of %d: %v with an empty set, %v with %d addresses in it (%.2f×)",
				rounds, empty.Round(100*time.Microsecond), full.Round(100*time.Microsecond), costSize, ratio)
			if ratio > 1.5 {
				t.Errorf("a ban with %d addresses in the set costs %.2f× one with none, want at most 1.5×", costSize, ratio)
			}
			for k, n := range nets {
				n.wantBans(tc.nft, rounds, k*costSize, tc.element)
			}
			// The last scanner's neighbour in its /24 is cut off only by a /24 ban.
			neighbour := costSource(rounds-1, 2)
			nets[1].WantReach(testkit.Server4, map[string]bool{costSource(rounds-1, 1): false, testkit.Bystander4: true,
				neighbour: !strings.Contains(tc.extra, "-4 24")})
		})
	}
}

// wantBans fails the test unless the set iblocked holds the bans of the
// first rounds cost sources and the fill, and nothing else.
func (n *testNet) wantBans(nft bool, rounds, filled int, element func(string) string) {
	n.T.Helper()
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
			n.T.Errorf("%s is not in the set", e)
		}
	}
	if total != rounds+filled {
		n.T.Errorf("the set holds %d elements, want %d", total, rounds+filled)
	}
}

// scanSet calls found with the address of each element of an nft set of
// table inet iblock, or of an ipset, as it reads the listing.
func (n *testNet) scanSet(nft bool, set string, found func(addr string)) {
	n.T.Helper()
	listing := testkit.IpsetListing(set)
	if nft {
		listing = testkit.NftListing(set)
	}
	n.ScanSets(listing, func(_, e string) { found(strings.Fields(e)[0]) })
}
