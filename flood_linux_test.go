package main

// A flood of forged SYNs, each from a new source, fills the short-ban
// sets. The kernel-side rulesets must then say so (one "iblock-full: "
// line a minute, a counter), keep making long bans from real handshakes,
// and recover by themselves once the flood stops and the elements expire.

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	n.t.Helper()
	size, secs := strconv.Itoa(floodSetSize), strconv.Itoa(int(floodTimeout.Seconds()))
	if k.name == "nft" {
		text := exampleWithPaths(n.t, "linux/iblock.nft")
		shrink := regexp.MustCompile(`(?s)(set syn_banned6? \{[^}]*?size )\d+([^}]*?timeout )1h`)
		if len(shrink.FindAllString(text, -1)) != 2 {
			n.t.Fatal("iblock.nft: the short-ban sets are not where the test looks for them")
		}
		text = shrink.ReplaceAllString(text, "${1}"+size+"${2}"+secs+"s")
		n.mustRun(needTool(n.t, "nft"), "-f", writeTemp(n.t, "flood.nft", text))
		return
	}
	conf := exampleWithPaths(n.t, "linux/ipset.conf")
	shrink := regexp.MustCompile(`(?m)^(create iblock_syn6? .*timeout )3600( maxelem )\d+`)
	if len(shrink.FindAllString(conf, -1)) != 2 {
		n.t.Fatal("ipset.conf: the short-ban sets are not where the test looks for them")
	}
	conf = shrink.ReplaceAllString(conf, "${1}"+secs+"${2}"+size)
	path := filepath.Join(n.t.TempDir(), "ipset.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	n.runInput(path, needTool(n.t, "ipset"), "-exist", "restore")
	for tool, name := range map[string]string{"iptables-restore": "iptables.rules", "ip6tables-restore": "ip6tables.rules"} {
		n.runInput("examples/linux/"+name, needTool(n.t, tool), "--noflush")
	}
}

// fullCount reads how many short bans the full set refused: nft's named
// counter syn_full, or the packets of the iptables rule that jumps to
// iblock_full from iblock_syn_add.
func (k kernelSetup) fullCount(n *testNet) int {
	n.t.Helper()
	if k.name == "nft" {
		out := n.mustRun("nft", "list", "counter", "inet", "iblock", "syn_full")
		m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
		if m == nil {
			n.t.Fatalf("nft list counter: %s", out)
		}
		return mustAtoi(m[1])
	}
	out := n.mustRun("iptables", "-t", "mangle", "-L", "iblock_syn_add", "-v", "-x", "-n")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "iblock_full" {
			return mustAtoi(f[0])
		}
	}
	n.t.Fatalf("no rule jumps to iblock_full:\n%s", out)
	return 0
}

// flood sends forged SYNs to dst's trap port from new sources in
// 198.18.128.0/17 until stop is closed, and returns
// how many it sent.
func (n *testNet) flood(dst string, stop chan struct{}) (sent *atomic.Int64, done chan error) {
	sent, done = new(atomic.Int64), make(chan error, 1)
	to := netip.MustParseAddr(dst)
	go func() {
		done <- inNamespace(n.scanner, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			src := netip.MustParseAddr("198.18.128.0")
			for {
				select {
				case <-stop:
					return nil
				default:
				}
				src = src.Next()
				pkt := synPacket(src, to, 40000, 23)
				if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: to.As4()}); err != nil {
					return err
				}
				// A pause now and then keeps the flood to some 50 000 SYNs
				// a second, and the connection tracking table of a shared
				// machine from filling.
				if sent.Add(1)%64 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}()
	return sent, done
}

// TestFloodOfForgedSYNsFillsTheShortBansVisiblyAndLongBansGoOn floods
// each kernel-side setup, with short-ban sets of floodSetSize elements
// that expire in floodTimeout: the set fills, the refused bans are counted
// and logged once, a real handshake during the flood is still banned for
// ten days, and after the flood the trap bans a new SYN again.
func TestFloodOfForgedSYNsFillsTheShortBansVisiblyAndLongBansGoOn(t *testing.T) {
	slow(t)
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			kmsg := followKmsg(t)
			n := newTestNet(t)
			k.loadFloodCopy(n)
			n.startInetd(k.inetdExtra)
			start := time.Now()
			stop := make(chan struct{})
			sent, done := n.flood(server4, stop)
			waitUntil(t, 20*time.Second, "a full short-ban set", func() bool { return len(k.list(n, k.short)) >= floodSetSize })
			waitUntil(t, 20*time.Second, "refused bans counted", func() bool { return k.fullCount(n) > 0 })
			// A real handshake in the middle of the flood.
			real := burstAddress(7)
			n.connectThenClose(t, real, server4, false)
			ban := kmsg.waitLine(t, "iblock-ban: ", n.kmsgMAC(), kmsgSrc(real))
			longBan := k.banLength(n, real)
			close(stop)
			if err := <-done; err != nil {
				t.Fatalf("flood: %v", err)
			}
			elapsed, shortBans := time.Since(start), len(k.list(n, k.short))
			waitUntil(t, 5*time.Second, "the kernel's line of a full set", func() bool {
				return len(kmsg.lines("iblock-full: ", n.kmsgMAC())) > 0
			})
			full, syns := kmsg.lines("iblock-full: ", n.kmsgMAC()), kmsg.lines("iblock-syn: ", n.kmsgMAC())
			refused := k.fullCount(n)
			report(t, "%d forged SYNs in %v: %d short bans (set size %d), %d refused and counted, %d iblock-syn lines, %d iblock-full lines: %q",
				sent.Load(), elapsed.Round(time.Millisecond), shortBans, floodSetSize, refused, len(syns), len(full), full)
			report(t, "a real handshake during the flood: banned %q, %s", longBan, ban)
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
			waitUntil(t, 10*floodTimeout, "a short ban after the flood", func() bool {
				i++
				after := "203.0.113." + strconv.Itoa(100+i)
				n.sendSYNs(t, server4, 23, after)
				return eventually(100*time.Millisecond, func() bool { return k.banLength(n, after) == "1h" }) &&
					len(kmsg.lines("iblock-syn: ", n.kmsgMAC(), kmsgSrc(after))) == 1
			})
			report(t, "the trap banned a new SYN again %v after the flood (short bans last %v here)",
				time.Since(ended).Round(100*time.Millisecond), floodTimeout)
		})
	}
}

// banFullCount reads how many long bans a full set refused: nft's named
// counter ban_full, or the packets of the iptables rule that jumps to
// iblock_full from iblock_ban_add.
func (k kernelSetup) banFullCount(n *testNet) int {
	n.t.Helper()
	if k.name == "nft" {
		out := n.mustRun("nft", "list", "counter", "inet", "iblock", "ban_full")
		m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
		if m == nil {
			n.t.Fatalf("nft list counter: %s", out)
		}
		return mustAtoi(m[1])
	}
	out := n.mustRun("iptables", "-t", "mangle", "-L", "iblock_ban_add", "-v", "-x", "-n")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "iblock_full" {
			return mustAtoi(f[0])
		}
	}
	n.t.Fatalf("no rule jumps to iblock_full:\n%s", out)
	return 0
}

// TestFullLongBanSetIsCountedAndLogged fills iblocked to its shipped size,
// then completes real handshakes until one cannot be banned (the first
// with nft; ipset's maxelem is not exact, its sets take some more): the
// rulesets count it and log it.
func TestFullLongBanSetIsCountedAndLogged(t *testing.T) {
	slow(t)
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			kmsg := followKmsg(t)
			n := newTestNet(t)
			k.load(n)
			n.listenAndClose(t, ":"+iblockPort)
			nft := k.name == "nft"
			size := setSize(t, nft, "iblocked")
			n.fillSet(nft, "iblocked", setAddresses(size, false))
			var from string
			for i := 1; i <= burstSize && (i == 1 || k.banFullCount(n) == 0); i++ {
				from = burstAddress(i)
				n.connectThenClose(t, from, server4, false)
				kmsg.waitLine(t, "iblock-", n.kmsgMAC(), kmsgSrc(from)) // iblock-ban: or iblock-full:
			}
			lines := kmsg.lines("iblock-full: ", n.kmsgMAC())
			report(t, "iblocked full at %d: %d elements when %s was refused, counted %d, %d iblock-full lines: %q",
				size, len(k.list(n, "iblocked")), from, k.banFullCount(n), len(lines), lines)
			if k.banLength(n, from) == "10d" || k.banFullCount(n) < 1 || len(lines) != 1 || !strings.Contains(lines[0], kmsgSrc(from)) {
				t.Errorf("with iblocked full, %s was banned %q and counted %d times; lines %q", from, k.banLength(n, from), k.banFullCount(n), lines)
			}
		})
	}
}
