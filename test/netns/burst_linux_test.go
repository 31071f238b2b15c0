package netns

// Bursts of scanners: a thousand distinct addresses from 198.18.0.0/15
// touch trap ports within a few seconds, through Debian's openbsd-inetd
// configured as the examples say, and through systemd-socket-activate.

import (
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

func TestBurstOfAThousandScannersIsBannedThroughInetd(t *testing.T) {
	n := newTestNet(t)
	n.LoadNftExample()
	n.StartInetd("")
	testkit.Log(t).Sync(t)
	before := map[string]int{}
	for i := 1; i <= testkit.BurstSize; i++ {
		before[testkit.BurstAddress(i)] = testkit.Log(t).Count("blocking " + testkit.BurstAddress(i))
	}
	results, peak := n.Burst()
	banned := n.NftAddresses("iblocked")
	s := testkit.Summarize(results, banned)
	testkit.Report(t, "%v; at most %d iblocks at once", s, peak)
	if s.Banned != testkit.BurstSize || len(banned) != testkit.BurstSize {
		t.Errorf("%d scanners banned, %d in the set, want %d; failures: %q", s.Banned, len(banned), testkit.BurstSize, testkit.First(s.Failed, 5))
	}
	testkit.Log(t).Sync(t)
	for _, f := range testkit.First(s.Failed, 5) {
		t.Logf("log of %s: %v", strings.Split(f, ":")[0], testkit.Log(t).Matching(strings.Split(f, ":")[0]+" "))
	}
	for i := 1; i <= testkit.BurstSize; i++ {
		if k := testkit.Log(t).Count("blocking "+testkit.BurstAddress(i)) - before[testkit.BurstAddress(i)]; k != 1 {
			t.Errorf("%s was logged as blocked %d times", testkit.BurstAddress(i), k)
		}
	}
	late := testkit.BurstAddress(testkit.BurstSize + 10)
	n.TouchTrap(late, testkit.Server4)
	if !n.NftAddresses("iblocked")[late] {
		t.Errorf("after the burst, the trap did not ban %s", late)
	}
	waitNoIblock(t)
}

// waitNoIblock fails the test if an iblock is still running 5 s on.
func waitNoIblock(t *testing.T) {
	t.Helper()
	if !testkit.Eventually(5*time.Second, func() bool { return len(testkit.IblockProcesses(t)) == 0 }) {
		t.Errorf("iblock processes left running: %v", testkit.IblockProcesses(t))
	}
}

// TestBurstThroughInetdWithPlainNowaitIsMeasured measures, without
// failing, what inetd's default spawn limit does to a burst: the number
// behind the README's advice on nowait.N.
func TestBurstThroughInetdWithPlainNowaitIsMeasured(t *testing.T) {
	n := newTestNet(t)
	n.LoadNftExample()
	n.StartInetdEdited(func(line string) string { return strings.Replace(line, "nowait.3000", "nowait", 1) })
	results, _ := n.Burst()
	s := testkit.Summarize(results, n.NftAddresses("iblocked"))
	testkit.Report(t, "with a plain nowait, %d of %d scanners banned; the others met a closed trap", s.Banned, testkit.BurstSize)
	waitNoIblock(t)
}

// TestBurstThroughSystemdSocketActivateIsBanned runs the burst through
// systemd-socket-activate, which has no connection limit of its own: the
// peak of iblocks at once is what MaxConnections must allow.
func TestBurstThroughSystemdSocketActivateIsBanned(t *testing.T) {
	n := newTestNet(t)
	n.LoadNftExample()
	socket := n.StartSocketActivate()
	results, peak := n.Burst()
	s := testkit.Summarize(results, n.NftAddresses("iblocked"))
	testkit.Report(t, "%v; at most %d iblocks at once (the socket's MaxConnections is %s)", s, peak, socket["MaxConnections"])
	if s.Banned != testkit.BurstSize {
		t.Errorf("%d of %d scanners banned; failures: %q", s.Banned, testkit.BurstSize, testkit.First(s.Failed, 5))
	}
	if limit := testkit.MustAtoi(socket["MaxConnections"]); peak > limit {
		t.Errorf("%d iblocks ran at once, more than the socket's MaxConnections of %d", peak, limit)
	}
	waitNoIblock(t)
}
