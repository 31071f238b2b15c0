package netns

// Bursts of a thousand scanners that complete handshakes, against the
// kernel-side rulesets: the kernel bans those that reset at once, as
// nmap -sT does; iblock behind inetd bans those that wait in silence,
// whose handshake the kernel sees no later packet of.

import (
	"strings"
	"sync"
	"testing"
	"time"

	"iblock/internal/testkit"
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
			if err := n.Handshake(testkit.BurstAddress(i), testkit.Server4, true); err != nil {
				mu.Lock()
				failed = append(failed, testkit.BurstAddress(i)+": "+err.Error())
				mu.Unlock()
			}
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
	testkit.Slow(t)
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		k.startWithListener(n)
		start := time.Now()
		failed := n.connectBurst(t, testkit.BurstSize)
		var bans map[string]bool
		testkit.WaitUntil(t, 20*time.Second, "the burst's long bans", func() bool {
			bans = map[string]bool{}
			for _, e := range k.list(n, "iblocked") {
				bans[strings.Fields(e)[0]] = true
			}
			return len(bans) >= testkit.BurstSize
		})
		took := time.Since(start)
		testkit.WaitUntil(t, 10*time.Second, "the burst's kernel log lines", func() bool {
			return len(kmsg.Lines("iblock-ban: ", n.KmsgMAC(), "SRC=198.18.")) >= testkit.BurstSize
		})
		testkit.Report(t, "%d connect-then-reset scanners: %d long bans in %v, %d iblock-ban lines, %d failed to connect",
			testkit.BurstSize, len(bans), took.Round(time.Millisecond), len(kmsg.Lines("iblock-ban: ", n.KmsgMAC(), "SRC=198.18.")), len(failed))
		if len(failed) > 0 {
			t.Errorf("connections failed: %q", testkit.First(failed, 5))
		}
		for i := 1; i <= testkit.BurstSize; i++ {
			src := testkit.BurstAddress(i)
			if lines := kmsg.Lines("iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(src)); !bans[src] || len(lines) != 1 {
				t.Errorf("%s: banned %v, %d kernel log lines", src, bans[src], len(lines))
			}
		}
	})
}

// TestKernelSideBurstOfAThousandWaitingClientsIsBannedThroughInetd: a
// thousand clients that connect and wait, against the kernel-side nft
// ruleset and inetd: iblock bans each for ten days, and the trap answers
// every one of them.
func TestKernelSideBurstOfAThousandWaitingClientsIsBannedThroughInetd(t *testing.T) {
	testkit.Slow(t)
	n := newTestNet(t)
	n.LoadKernelNft()
	n.StartInetd("")
	results, peak := n.Burst()
	s := testkit.Summarize(results, n.NftAddresses("iblocked"))
	testkit.Report(t, "%v; at most %d iblocks at once", s, peak)
	if s.Banned != testkit.BurstSize {
		t.Errorf("%d of %d waiting clients banned; failures: %q", s.Banned, testkit.BurstSize, testkit.First(s.Failed, 5))
	}
	waitNoIblock(t)
}
