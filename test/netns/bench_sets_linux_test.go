package netns

// "make bench-sets": the time of one ban against the size of the set, for
// each Linux path, side by side. IPv6, because only 2001:db8::/32 holds a
// million documentation addresses.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

var benchSizes = []int{0, 10000, 100000, 1000000}

// benchFill returns the fill addresses from the from-th to the to-th:
// each in a /64 of its own (the IPv6 short-ban sets hold /64s), in
// 2001:db8:100::/24, apart from every scanner.
func benchFill(from, to int) []string {
	addrs := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		addrs = append(addrs, sixtyFour(0x01, i))
	}
	return addrs
}

// benchPath is one way a Linux host bans: what it loads, the set that
// grows, how to fill it, and how to time one ban.
type benchPath struct {
	name  string
	start func(n *testNet)
	set   string
	fill  func(n *testNet, set string, addrs []string)
	ban   func(t *testing.T, n *testNet, set string, round int) time.Duration
}

// synBurst is how many forged SYNs time one kernel-side ban, and
// synBursts how many such bursts give the median.
const synBurst, synBursts = 2000, 5

// kernelBan times the kernel's bans: the median of synBursts bursts of
// synBurst SYNs from distinct sources, per SYN. The receiving side,
// firewall and all, runs in the sender's system call (the veth hands each
// packet over at once), so the time to send them is the time to ban them.
// The last source of each burst is a real address of the scanner
// namespace: afterwards it must be cut off from the service. On a busy
// machine the kernel may defer the receiving side, and the figure is then
// too low: run it on a quiet one. (Asking nft
// whether a set of a million holds an address takes seconds: nft fetches
// the whole set.)
func kernelBan(t *testing.T, n *testNet, _ string, round int) time.Duration {
	var took []time.Duration
	for b := 0; b < synBursts; b++ {
		srcs := make([]string, synBurst)
		for i := range srcs {
			srcs[i] = fmt.Sprintf("2001:db8:5:%x:%x::%x", round, b, i+1)
		}
		last := fmt.Sprintf("2001:db8:0:7::%x:%x", round, b)
		n.IPBatch(n.Scanner, "addr add "+last+"/48 dev veth0 nodad")
		n.IPBatch(n.Server, "neigh add "+last+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent")
		srcs[len(srcs)-1] = last
		start := time.Now()
		n.SendSYNs(t, testkit.Server6, 23, srcs...)
		took = append(took, time.Since(start)/synBurst)
		// On a busy machine the kernel may finish the work a little later.
		testkit.WaitUntil(t, 10*time.Second, last+" is not cut off", func() bool { return !n.ReachesService(last, testkit.Server6) })
	}
	n.WantReach(testkit.Server6, map[string]bool{testkit.Bystander6: true})
	return testkit.Median(took)
}

// iblockRounds is how many scanners time one ban through iblock.
const iblockRounds = 15

// iblockBan times iblock behind openbsd-inetd: the median time to block
// of scanners from fresh addresses.
func iblockBan(t *testing.T, n *testNet, _ string, round int) time.Duration {
	var took []time.Duration
	for i := 1; i <= iblockRounds; i++ {
		src := fmt.Sprintf("2001:db8:0:6::%x:%x", round, i)
		n.IPBatch(n.Scanner, "addr add "+src+"/48 dev veth0 nodad")
		n.IPBatch(n.Server, "neigh add "+src+" lladdr "+n.ScannerMAC+" dev veth0 nud permanent")
		took = append(took, n.TouchTrap(src, testkit.Server6))
	}
	return testkit.Median(took)
}

var benchPaths = []benchPath{
	{"kernel nft", func(n *testNet) { n.LoadKernelNft(); n.Serve() }, "syn_banned6", (*testNet).FillNft, kernelBan},
	{"kernel ipset", func(n *testNet) { n.LoadKernelIpset(); n.Serve() }, "iblock_syn6", (*testNet).FillIpset, kernelBan},
	{"iblock+nft", func(n *testNet) { n.LoadNftExample(); n.StartInetd("") }, "iblocked6", (*testNet).FillNft, iblockBan},
	{"iblock+ipset", func(n *testNet) { n.LoadIpsetExample(); n.StartInetd(" -b ipset") }, "iblocked6", (*testNet).FillIpset, iblockBan},
}

// TestBanCostBySetSize is the benchmark of "make bench-sets", skipped
// unless IBLOCK_BENCH_SETS=1: it fills each path's set to each size and
// times bans there, then prints one table.
func TestBanCostBySetSize(t *testing.T) {
	if os.Getenv("IBLOCK_BENCH_SETS") != "1" {
		t.Skip("a benchmark: make bench-sets runs it")
	}
	results := map[string][]time.Duration{}
	for _, p := range benchPaths {
		t.Run(p.name, func(t *testing.T) {
			n := newTestNet(t)
			n.Room = 2 * benchSizes[len(benchSizes)-1] // the fill, and the bans on top
			p.start(n)
			filled := 0
			for round, size := range benchSizes {
				start := time.Now()
				p.fill(n, p.set, benchFill(filled, size))
				filled = size
				filledIn := time.Since(start)
				results[p.name] = append(results[p.name], p.ban(t, n, p.set, round))
				t.Logf("%d: filled in %v, measured in %v", size, filledIn.Round(time.Millisecond), (time.Since(start) - filledIn).Round(time.Millisecond))
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "time of one ban by set size (kernel: median of %d bursts of %d SYNs, per SYN; iblock: median of %d scanners through openbsd-inetd)\n",
		synBursts, synBurst, iblockRounds)
	fmt.Fprintf(&b, "%12s", "set size")
	for _, p := range benchPaths {
		fmt.Fprintf(&b, "%14s", p.name)
	}
	for i, size := range benchSizes {
		fmt.Fprintf(&b, "\n%12d", size)
		for _, p := range benchPaths {
			if r := results[p.name]; i < len(r) && r[i] < time.Millisecond {
				fmt.Fprintf(&b, "%11.1f µs", float64(r[i])/float64(time.Microsecond))
			} else if i < len(r) {
				fmt.Fprintf(&b, "%11.1f ms", float64(r[i])/float64(time.Millisecond))
			}
		}
	}
	testkit.Report(t, "\n%s", b.String())
}
