package netns

// A flood of forged SYNs, each from a new source, fills the short-ban
// sets. The kernel-side rulesets must then say so (one "iblock-full: "
// line a minute, a counter), keep making long bans from real handshakes,
// and recover by themselves once the flood stops and the elements expire.

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// Not the shipped figures: a copy of the ruleset whose short-ban sets hold
// floodSetSize elements for floodTimeout, so that a flood fills them in
// moments and they empty within the test.
const (
	floodSetSize = 1024
	floodTimeout = 5 * time.Second
)

// loadFloodCopy loads a copy of a kernel-side setup's sets and rules with
// the short-ban sets shrunk to floodSetSize and floodTimeout.
func (k kernelSetup) loadFloodCopy(n *testNet) {
	n.T.Helper()
	size, secs := strconv.Itoa(floodSetSize), strconv.Itoa(int(floodTimeout.Seconds()))
	if k.name == "nft" {
		n.LoadNft("iblock.nft", func(text string) string {
			shrink := regexp.MustCompile(`(?s)(set syn_banned6? \{[^}]*?size )\d+([^}]*?timeout )1h`)
			if len(shrink.FindAllString(text, -1)) != 2 {
				n.T.Fatal("iblock.nft: the short-ban sets are not where the test looks for them")
			}
			return shrink.ReplaceAllString(text, "${1}"+size+"${2}"+secs+"s")
		})
		return
	}
	n.LoadIpset(func(name, text string) string {
		if name != "ipset.conf" {
			return text
		}
		shrink := regexp.MustCompile(`(?m)^(create iblock_syn6? .*timeout )3600( maxelem )\d+`)
		if len(shrink.FindAllString(text, -1)) != 2 {
			n.T.Fatal("ipset.conf: the short-ban sets are not where the test looks for them")
		}
		return shrink.ReplaceAllString(text, "${1}"+secs+"${2}"+size)
	})
}

// refused reads how many bans a full set refused: nft's named counter
// (syn_full, ban_full), or the packets of the iptables rule that jumps to
// iblock_full from chain (iblock_syn_add, iblock_ban_add).
func (k kernelSetup) refused(n *testNet, counter, chain string) int {
	n.T.Helper()
	if k.name == "nft" {
		out := n.MustRun("nft", "list", "counter", "inet", "iblock", counter)
		m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
		if m == nil {
			n.T.Fatalf("nft list counter: %s", out)
		}
		return testkit.MustAtoi(m[1])
	}
	out := n.MustRun("iptables", "-t", "mangle", "-L", chain, "-v", "-x", "-n")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "iblock_full" {
			return testkit.MustAtoi(f[0])
		}
	}
	n.T.Fatalf("no rule jumps to iblock_full:\n%s", out)
	return 0
}

// fullCount is how many short bans the full set refused.
func (k kernelSetup) fullCount(n *testNet) int {
	n.T.Helper()
	return k.refused(n, "syn_full", "iblock_syn_add")
}

// banFullCount is how many long bans the full set refused.
func (k kernelSetup) banFullCount(n *testNet) int {
	n.T.Helper()
	return k.refused(n, "ban_full", "iblock_ban_add")
}

// flood sends forged SYNs to dst's trap port from new sources in
// 198.18.128.0/17 until stop is closed, and returns how many it sent.
func (n *testNet) flood(dst string, stop chan struct{}) (sent *atomic.Int64, done chan error) {
	return n.floodWith("SYN", dst, stop)
}

// floodWith is flood with probes of a kind (testkit.Probe): to port 23,
// or for UDP to a UDP trap port.
func (n *testNet) floodWith(kind, dst string, stop chan struct{}) (sent *atomic.Int64, done chan error) {
	sent, done = new(atomic.Int64), make(chan error, 1)
	to, src := netip.MustParseAddr(dst), netip.MustParseAddr("198.18.128.0")
	port := uint16(23)
	if kind == "UDP" {
		port = udpTrapPort
	}
	go func() {
		done <- n.SendPackets(to, func() ([]byte, bool) {
			select {
			case <-stop:
				return nil, false
			default:
			}
			// A pause now and then keeps the flood to some 50 000 SYNs
			// a second, and the connection tracking table of a shared
			// machine from filling.
			if sent.Add(1)%64 == 0 {
				time.Sleep(time.Millisecond)
			}
			src = src.Next()
			return testkit.Probe(kind, src, to, 40000, port), true
		})
	}()
	return sent, done
}

// TestFloodOfForgedSYNsFillsTheShortBansVisiblyAndLongBansGoOn floods
// each kernel-side setup, with short-ban sets of floodSetSize elements
// that expire in floodTimeout: the set fills, the refused bans are counted
// and logged once, a real handshake during the flood is still banned for
// ten days, and after the flood the trap bans a new SYN again. Then the
// same with forged datagrams to a UDP trap port: they fill the same set,
// within the same bounds, and change nothing else.
func TestFloodOfForgedSYNsFillsTheShortBansVisiblyAndLongBansGoOn(t *testing.T) {
	testkit.Slow(t)
	for _, kind := range []string{"SYN", "UDP"} {
		t.Run(kind, func(t *testing.T) { floodOf(t, kind) })
	}
}

func floodOf(t *testing.T, kind string) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.loadFloodCopy(n)
		n.StartInetd(k.inetdExtra)
		start := time.Now()
		stop := make(chan struct{})
		sent, done := n.floodWith(kind, testkit.Server4, stop)
		testkit.WaitUntil(t, 20*time.Second, "a full short-ban set", func() bool { return len(k.list(n, k.short)) >= floodSetSize })
		testkit.WaitUntil(t, 20*time.Second, "refused bans counted", func() bool { return k.fullCount(n) > 0 })
		// A real handshake in the middle of the flood.
		real := testkit.BurstAddress(7)
		n.ConnectThenClose(t, real, testkit.Server4, false)
		ban := kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(real))
		longBan := k.banLength(n, real)
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("flood: %v", err)
		}
		elapsed, shortBans := time.Since(start), len(k.list(n, k.short))
		testkit.WaitUntil(t, 5*time.Second, "the kernel's line of a full set", func() bool {
			return len(kmsg.Lines("iblock-full: ", n.KmsgMAC())) > 0
		})
		full, syns := kmsg.Lines("iblock-full: ", n.KmsgMAC()), kmsg.Lines("iblock-syn: ", n.KmsgMAC())
		refused := k.fullCount(n)
		testkit.Report(t, "%d forged %s probes in %v: %d short bans (set size %d), %d refused and counted, %d iblock-syn lines, %d iblock-full lines: %q",
			sent.Load(), kind, elapsed.Round(time.Millisecond), shortBans, floodSetSize, refused, len(syns), len(full), full)
		testkit.Report(t, "a real handshake during the flood: banned %q, %s", longBan, ban)
		if longBan != "10d" {
			t.Errorf("a real handshake during the flood was banned %q, want 10d", longBan)
		}
		if limit := 1 + int(elapsed/time.Minute); len(full) > limit {
			t.Errorf("%d iblock-full lines in %v, more than one a minute", len(full), elapsed)
		}
		// ipset's maxelem is not exact when adds run on several CPUs
		// at once: the set may hold a few more.
		if len(syns) > shortBans+1 || refused+shortBans < int(sent.Load())-floodSetSize/4 {
			t.Errorf("%d iblock-syn lines for %d short bans; %d refused of %d sent", len(syns), shortBans, refused, sent.Load())
		}
		// The flood is over: once the short bans expire, the trap bans
		// a new SYN again, by itself.
		ended, i := time.Now(), 0
		testkit.WaitUntil(t, 10*floodTimeout, "a short ban after the flood", func() bool {
			i++
			after := "203.0.113." + strconv.Itoa(100+i)
			n.SendSYNs(t, testkit.Server4, 23, after)
			return testkit.Eventually(100*time.Millisecond, func() bool { return k.banLength(n, after) == "1h" }) &&
				len(kmsg.Lines("iblock-syn: ", n.KmsgMAC(), testkit.KmsgSrc(after))) == 1
		})
		testkit.Report(t, "the trap banned a new SYN again %v after the flood (short bans last %v here)",
			time.Since(ended).Round(100*time.Millisecond), floodTimeout)
	})
}

// TestFullLongBanSetIsCountedAndLogged fills iblocked to its shipped size,
// then completes real handshakes until one cannot be banned (the first
// with nft; ipset's maxelem is not exact, its sets take some more): the
// rulesets count it and log it.
func TestFullLongBanSetIsCountedAndLogged(t *testing.T) {
	testkit.Slow(t)
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.startWithListener(n)
		nft := k.name == "nft"
		size := setSize(t, nft, "iblocked")
		n.fillSet(nft, "iblocked", setAddresses(size, false))
		var from string
		for i := 1; i <= testkit.BurstSize && (i == 1 || k.banFullCount(n) == 0); i++ {
			from = testkit.BurstAddress(i)
			n.ConnectThenClose(t, from, testkit.Server4, false)
			kmsg.WaitLine(t, "iblock-", n.KmsgMAC(), testkit.KmsgSrc(from)) // iblock-ban: or iblock-full:
		}
		lines := kmsg.Lines("iblock-full: ", n.KmsgMAC())
		testkit.Report(t, "iblocked full at %d: %d elements when %s was refused, counted %d, %d iblock-full lines: %q",
			size, len(k.list(n, "iblocked")), from, k.banFullCount(n), len(lines), lines)
		if k.banLength(n, from) == "10d" || k.banFullCount(n) < 1 || len(lines) != 1 || !strings.Contains(lines[0], testkit.KmsgSrc(from)) {
			t.Errorf("with iblocked full, %s was banned %q and counted %d times; lines %q", from, k.banLength(n, from), k.banFullCount(n), lines)
		}
	})
}
