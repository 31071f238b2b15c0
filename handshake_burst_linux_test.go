package main

// Bursts of a thousand scanners that complete handshakes, against the
// kernel-side rulesets: the kernel bans those that reset at once, as
// nmap -sT does; iblock behind inetd bans those that wait in silence,
// whose handshake the kernel sees no later packet of.

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// connectBurst completes a handshake with the trap from each of count
// addresses, a hundred at a time, and resets each connection at once.
func (n *testNet) connectBurst(t *testing.T, count int) (failed []string) {
	t.Helper()
	var mu sync.Mutex
	slots := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for i := 1; i <= count; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			c, err := n.dial(burstAddress(i), server4, trapPort, 5*time.Second)
			if err != nil {
				mu.Lock()
				failed = append(failed, burstAddress(i)+": "+err.Error())
				mu.Unlock()
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
	}
	wg.Wait()
	return failed
}

// TestKernelSideBurstOfAThousandHandshakesLeavesAThousandLongBans: a
// thousand connect-then-reset scanners at once, a listener on the
// wildcard address that accepts and closes: the kernel alone bans each
// for ten days and logs it once.
func TestKernelSideBurstOfAThousandHandshakesLeavesAThousandLongBans(t *testing.T) {
	slow(t)
	for _, k := range kernelSetups {
		t.Run(k.name, func(t *testing.T) {
			kmsg := followKmsg(t)
			n := newTestNet(t)
			k.load(n)
			n.listenAndClose(t, ":"+iblockPort)
			start := time.Now()
			failed := n.connectBurst(t, burstSize)
			var bans map[string]bool
			waitUntil(t, 20*time.Second, "the burst's long bans", func() bool {
				bans = map[string]bool{}
				for _, e := range k.list(n, "iblocked") {
					bans[strings.Fields(e)[0]] = true
				}
				return len(bans) >= burstSize
			})
			took := time.Since(start)
			waitUntil(t, 10*time.Second, "the burst's kernel log lines", func() bool {
				return len(kmsg.lines("iblock-ban: ", n.kmsgMAC(), "SRC=198.18.")) >= burstSize
			})
			report(t, "%d connect-then-reset scanners: %d long bans in %v, %d iblock-ban lines, %d failed to connect",
				burstSize, len(bans), took.Round(time.Millisecond), len(kmsg.lines("iblock-ban: ", n.kmsgMAC(), "SRC=198.18.")), len(failed))
			if len(failed) > 0 {
				t.Errorf("connections failed: %q", first(failed, 5))
			}
			for i := 1; i <= burstSize; i++ {
				src := burstAddress(i)
				if lines := kmsg.lines("iblock-ban: ", n.kmsgMAC(), kmsgSrc(src)); !bans[src] || len(lines) != 1 {
					t.Errorf("%s: banned %v, %d kernel log lines", src, bans[src], len(lines))
				}
			}
		})
	}
}

// TestKernelSideBurstOfAThousandWaitingClientsIsBannedThroughInetd: a
// thousand clients that connect and wait, against the kernel-side nft
// ruleset and inetd: iblock bans each for ten days, and the trap answers
// every one of them.
func TestKernelSideBurstOfAThousandWaitingClientsIsBannedThroughInetd(t *testing.T) {
	slow(t)
	n := newTestNet(t)
	n.loadKernelNft()
	n.startInetd("")
	results, peak := n.burst()
	s := summarize(results, n.elementSet("iblocked"))
	report(t, "%v; at most %d iblocks at once", s, peak)
	if s.banned != burstSize {
		t.Errorf("%d of %d waiting clients banned; failures: %q", s.banned, burstSize, first(s.failed, 5))
	}
	waitNoIblock(t)
}
