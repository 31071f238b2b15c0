package netns

// Every kind of scan that proves nothing gets the same short ban, and
// never a long one: the first packet of a SYN, FIN, NULL, Xmas, Maimon,
// ACK or window scan to a TCP trap port, and a datagram to a UDP trap
// port. And no one IPv6 /64 can fill the short-ban set on its own.

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// udpTrapPort is one of the shipped rulesets' UDP trap ports.
const udpTrapPort = 1434

// probeSource is the i-th forged source of a probe: routed from the
// server to the scanner namespace (RouteForgedVictims), IPv6 each in a /64
// of its own.
func probeSource(i int, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2001:db8:f0:%x::1", 0x100+i)
	}
	return fmt.Sprintf("203.0.113.%d", 100+i)
}

// TestEveryKindOfScanIsShortBannedAndNeverLong sends each kind of probe,
// forged, from a source of its own, to a trap port (the UDP one to a UDP
// trap port), then the same probe to iblock's port: each source is banned
// for an hour, none for long, and each is logged once.
func TestEveryKindOfScanIsShortBannedAndNeverLong(t *testing.T) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.Start(n, "")
		n.RouteForgedVictims()
		i := 0
		for _, v6 := range []bool{false, true} {
			to := netip.MustParseAddr(serverOf(v6))
			for _, kind := range testkit.ProbeKinds {
				i++
				src := probeSource(i, v6)
				from := netip.MustParseAddr(src)
				port := uint16(23)
				if kind == "UDP" {
					port = udpTrapPort
				}
				packets := [][]byte{
					testkit.Probe(kind, from, to, 40000, port),
					testkit.Probe(kind, from, to, 40001, uint16(testkit.MustAtoi(testkit.IblockPort))),
				}
				if err := n.SendPackets(to, nextOf(packets)); err != nil {
					t.Fatal(err)
				}
				var got string
				testkit.Eventually(2*time.Second, func() bool { got = k.banLength(n, src); return got != "" })
				lines := kmsg.Lines("iblock-syn: ", n.KmsgMAC(), testkit.KmsgSrc(src))
				testkit.Report(t, "%s probe from %s: banned %q, %d kernel lines", kind, src, got, len(lines))
				if got != "1h" || len(lines) != 1 {
					t.Errorf("%s probe from %s: banned %q, %d iblock-syn lines; want 1h and 1", kind, src, got, len(lines))
				}
			}
		}
		if long := append(k.list(n, "iblocked"), k.list(n, "iblocked6")...); len(long) > 0 {
			t.Errorf("probes made long bans: %q", long)
		}
	})
}

// nextOf returns the packets one by one, for SendPackets.
func nextOf(packets [][]byte) func() ([]byte, bool) {
	i := 0
	return func() ([]byte, bool) {
		if i == len(packets) {
			return nil, false
		}
		i++
		return packets[i-1], true
	}
}

// floodV6SetSize is the size of the IPv6 short-ban set in the copy of a
// ruleset the /64 flood runs against: small, so that the flood would fill
// it in moments if each address took an element.
const floodV6SetSize = 1024

// loadSmallV6ShortBans loads a kernel-side setup with its IPv6 short-ban
// set shrunk to floodV6SetSize elements, its timeout kept.
func (k kernelSetup) loadSmallV6ShortBans(n *testNet) {
	n.T.Helper()
	size := strconv.Itoa(floodV6SetSize)
	if k.name == "nft" {
		n.LoadNft("iblock.nft", func(text string) string {
			shrink := regexp.MustCompile(`(?s)(set syn_banned6 \{[^}]*?size )\d+`)
			if !shrink.MatchString(text) {
				n.T.Fatal("iblock.nft: syn_banned6 is not where the test looks for it")
			}
			return shrink.ReplaceAllString(text, "${1}"+size)
		})
		return
	}
	n.LoadIpset(func(name, text string) string {
		shrink := regexp.MustCompile(`(?m)^(create iblock_syn6 .* maxelem )\d+`)
		if name != "ipset.conf" {
			return text
		}
		if !shrink.MatchString(text) {
			n.T.Fatal("ipset.conf: iblock_syn6 is not where the test looks for it")
		}
		return shrink.ReplaceAllString(text, "${1}"+size)
	})
}

// TestFloodFromOneSixtyFourLeavesRoomForOtherScanners forges SYNs from
// four times as many addresses of one /64 as the IPv6 short-ban set
// holds: the set holds one element for them all, and a real SYN scanner
// from another /64 is still banned.
func TestFloodFromOneSixtyFourLeavesRoomForOtherScanners(t *testing.T) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.loadSmallV6ShortBans(n)
		n.StartInetd(k.inetdExtra)
		n.Serve()
		n.RouteForgedVictims()
		to := netip.MustParseAddr(testkit.Server6)
		base := netip.MustParseAddr("2001:db8:f0:64::").As16()
		var sent atomic.Int64
		start := time.Now()
		err := n.SendEach(to, func() (testkit.Segment, bool) {
			i := sent.Add(1)
			if i > 4*floodV6SetSize {
				return testkit.Segment{}, false
			}
			a := base
			a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16)^0x5a, byte(i>>8), byte(i)
			return testkit.SYN(netip.AddrFrom16(a), to, uint16(40000+i%20000), 23), true
		})
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		var held []string
		testkit.Eventually(time.Second, func() bool { held = k.list(n, k.short+"6"); return len(held) > 0 })
		scanner := (&scannerAddrs{n: n}).fresh(true)
		got := n.scan(t, scanners[1], scanner, testkit.Server6, k.banLength) // nmap -6 -sS
		testkit.Report(t, "%d forged SYNs from %d addresses of one /64 in %v: the IPv6 short-ban set (size %d) holds %d element(s), full counted %d; then nmap -6 -sS from another /64: banned %q",
			4*floodV6SetSize, 4*floodV6SetSize, took.Round(time.Millisecond), floodV6SetSize, len(held), k.fullCount(n), got)
		if len(held) != 1 || got != "1h" {
			t.Errorf("after the /64's flood the set holds %d elements, and the scanner from another /64 is banned %q", len(held), got)
		}
	})
}
