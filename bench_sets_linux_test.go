package main

// "make bench-sets": the time of one ban against the size of the set, for
// each Linux path, side by side. IPv6, because only 2001:db8::/32 holds a
// million documentation addresses.

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

var benchSizes = []int{0, 10000, 100000, 1000000}

// benchFill returns the fill addresses from the from-th to the to-th:
// 2001:db8:100::/64 and up, apart from every scanner.
func benchFill(from, to int) []string {
	base := netip.MustParseAddr("2001:db8:100::").As16()
	addrs := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		a := base
		a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		addrs = append(addrs, netip.AddrFrom16(a).String())
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

func nftFill(n *testNet, set string, addrs []string) {
	var b strings.Builder
	for len(addrs) > 0 {
		k := min(len(addrs), 10000)
		fmt.Fprintf(&b, "add element inet iblock %s { %s }\n", set, strings.Join(addrs[:k], ", "))
		addrs = addrs[k:]
	}
	n.mustRun("nft", "-f", writeTemp(n.t, "fill.nft", b.String()))
}

func ipsetFill(n *testNet, set string, addrs []string) {
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&b, "add %s %s\n", set, a)
	}
	n.runInput(writeTemp(n.t, "fill.ipset", b.String()), "ipset", "-exist", "restore")
}

// synBurst is how many forged SYNs time one kernel-side ban.
const synBurst = 5000

// kernelBan times the kernel's bans: synBurst SYNs from distinct sources,
// until the last is in the set, per SYN. The receiving side runs in the
// sender's system call, so the last one in means all are.
func kernelBan(has func(n *testNet, set, addr string) bool) func(*testing.T, *testNet, string, int) time.Duration {
	return func(t *testing.T, n *testNet, set string, round int) time.Duration {
		srcs := make([]string, synBurst)
		for i := range srcs {
			srcs[i] = fmt.Sprintf("2001:db8:5:%x::%x", round, i+1)
		}
		start := time.Now()
		n.sendSYNs(t, server6, 23, srcs...)
		waitUntil(t, 30*time.Second, "the last SYN's ban", func() bool { return has(n, set, srcs[len(srcs)-1]) })
		return time.Since(start) / synBurst
	}
}

// iblockRounds is how many scanners time one ban through iblock.
const iblockRounds = 9

// iblockBan times iblock behind openbsd-inetd: the median time to block
// of scanners from fresh addresses.
func iblockBan(t *testing.T, n *testNet, _ string, round int) time.Duration {
	var took []time.Duration
	for i := 1; i <= iblockRounds; i++ {
		src := fmt.Sprintf("2001:db8:0:6::%x:%x", round, i)
		n.ipBatch(n.scanner, "addr add "+src+"/48 dev veth0 nodad")
		n.ipBatch(n.server, "neigh add "+src+" lladdr "+scannerMAC+" dev veth0 nud permanent")
		took = append(took, n.touchTrap(src, server6))
	}
	return median(took)
}

var benchPaths = []benchPath{
	{"kernel nft", func(n *testNet) { n.loadKernelNft() }, "syn_banned6", nftFill,
		kernelBan(func(n *testNet, set, a string) bool {
			_, err := n.run("nft", "get", "element", "inet", "iblock", set, "{ "+a+" }")
			return err == nil
		})},
	{"kernel ipset", func(n *testNet) { n.loadKernelIpset() }, "iblock_syn6", ipsetFill,
		kernelBan(func(n *testNet, set, a string) bool {
			_, err := n.run("ipset", "test", set, a)
			return err == nil
		})},
	{"iblock+nft", func(n *testNet) { n.loadNftExample(); n.startInetd("") }, "iblocked6", nftFill, iblockBan},
	{"iblock+ipset", func(n *testNet) { n.loadIpsetExample(); n.startInetd(" -b ipset") }, "iblocked6", ipsetFill, iblockBan},
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
			p.start(n)
			filled := 0
			for round, size := range benchSizes {
				p.fill(n, p.set, benchFill(filled, size))
				filled = size
				results[p.name] = append(results[p.name], p.ban(t, n, p.set, round))
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "time of one ban by set size (kernel: per SYN of a burst of %d; iblock: median of %d scanners through openbsd-inetd)\n", synBurst, iblockRounds)
	fmt.Fprintf(&b, "%12s", "set size")
	for _, p := range benchPaths {
		fmt.Fprintf(&b, "%14s", p.name)
	}
	for i, size := range benchSizes {
		fmt.Fprintf(&b, "\n%12d", size)
		for _, p := range benchPaths {
			if r := results[p.name]; i < len(r) {
				fmt.Fprintf(&b, "%14v", r[i].Round(100*time.Nanosecond))
			}
		}
	}
	report(t, "\n%s", b.String())
}
