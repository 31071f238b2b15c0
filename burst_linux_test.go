package main

// Bursts of scanners: a thousand distinct addresses from 198.18.0.0/15
// touch trap ports within a few seconds, through Debian's openbsd-inetd
// configured as the examples say, and through systemd-socket-activate.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// burst runs a burst from the scanner namespace against the trap ports of
// the server, and counts the iblocks running at once meanwhile.
func (n *testNet) burst() (results []burstResult, peak int) {
	n.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.scanner, exe)
	cmd.Env = append(os.Environ(), "IBLOCK_BURST="+server4+":23,445,1433,3389,5900")
	stop := make(chan struct{})
	peakc := make(chan int)
	go func() { peakc <- peakIblocks(stop) }()
	out, err := cmd.Output()
	close(stop)
	peak = <-peakc
	if err != nil {
		n.t.Fatalf("burst: %v", err)
	}
	if err := json.Unmarshal(out, &results); err != nil {
		n.t.Fatalf("burst: %v", err)
	}
	return results, peak
}

// peakIblocks samples, until stop, how many iblock processes run at once.
func peakIblocks(stop chan struct{}) int {
	peak := 0
	for {
		select {
		case <-stop:
			return peak
		default:
		}
		peak = max(peak, len(iblockProcesses()))
		time.Sleep(2 * time.Millisecond)
	}
}

// iblockProcesses returns the pids of the running processes of the iblock
// the tests built.
func iblockProcesses() []string {
	dirs, _ := os.ReadDir("/proc")
	var pids []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && exe == iblockBin {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// burstSummary is what a burst achieved: how many scanners were banned,
// how fast, and how long each waited.
type burstSummary struct {
	banned            int
	failed            []string
	perSecond         float64
	median, p99, slow time.Duration
}

func summarize(results []burstResult, banned map[string]bool) burstSummary {
	var s burstSummary
	var took []time.Duration
	first, last := results[0].Start, results[0].Start
	for _, r := range results {
		if r.Err != "" || r.Received != 0 || !banned[r.From] {
			s.failed = append(s.failed, r.From+": "+r.Err)
			continue
		}
		s.banned++
		took = append(took, r.Took)
		first = minTime(first, r.Start)
		if end := r.Start.Add(r.Took); end.After(last) {
			last = end
		}
	}
	if len(took) == 0 {
		return s
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	s.median, s.p99, s.slow = took[len(took)/2], took[len(took)*99/100], took[len(took)-1]
	s.perSecond = float64(s.banned) / last.Sub(first).Seconds()
	return s
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (s burstSummary) String() string {
	ms := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("%d of %d banned, %.0f bans/s; time to block: median %v, 99th percentile %v, slowest %v",
		s.banned, burstSize, s.perSecond, ms(s.median), ms(s.p99), ms(s.slow))
}

// elementSet returns the addresses of an nft set as a set.
func (n *testNet) elementSet(set string) map[string]bool {
	elems := map[string]bool{}
	for _, e := range n.nftSet(set) {
		elems[strings.Fields(e)[0]] = true
	}
	return elems
}

func TestBurstOfAThousandScannersIsBannedThroughInetd(t *testing.T) {
	n := newTestNet(t)
	n.loadNftExample()
	n.startInetd("")
	testLog.sync(t)
	before := map[string]int{}
	for i := 1; i <= burstSize; i++ {
		before[burstAddress(i)] = testLog.count("blocking " + burstAddress(i))
	}
	results, peak := n.burst()
	banned := n.elementSet("iblocked")
	s := summarize(results, banned)
	report(t, "%v; at most %d iblocks at once", s, peak)
	if s.banned != burstSize || len(banned) != burstSize {
		t.Errorf("%d scanners banned, %d in the set, want %d; failures: %q", s.banned, len(banned), burstSize, first(s.failed, 5))
	}
	testLog.sync(t)
	for _, f := range first(s.failed, 5) {
		t.Logf("log of %s: %v", strings.Split(f, ":")[0], testLog.matching(strings.Split(f, ":")[0]+" "))
	}
	for i := 1; i <= burstSize; i++ {
		if k := testLog.count("blocking "+burstAddress(i)) - before[burstAddress(i)]; k != 1 {
			t.Errorf("%s was logged as blocked %d times", burstAddress(i), k)
		}
	}
	late := burstAddress(burstSize + 10)
	n.touchTrap(late, server4)
	if !n.elementSet("iblocked")[late] {
		t.Errorf("after the burst, the trap did not ban %s", late)
	}
	waitNoIblock(t)
}

// waitNoIblock fails the test if an iblock is still running 5 s on.
func waitNoIblock(t *testing.T) {
	t.Helper()
	if !eventually(5*time.Second, func() bool { return len(iblockProcesses()) == 0 }) {
		t.Errorf("iblock processes left running: %v", iblockProcesses())
	}
}

func first(s []string, k int) []string {
	return s[:min(k, len(s))]
}

// TestBurstThroughInetdWithPlainNowaitIsMeasured measures, without
// failing, what inetd's default spawn limit does to a burst: the number
// behind the README's advice on nowait.N.
func TestBurstThroughInetdWithPlainNowaitIsMeasured(t *testing.T) {
	n := newTestNet(t)
	n.loadNftExample()
	n.startInetdEdited(func(line string) string { return strings.Replace(line, "nowait.3000", "nowait", 1) })
	results, _ := n.burst()
	s := summarize(results, n.elementSet("iblocked"))
	report(t, "with a plain nowait, %d of %d scanners banned; the others met a closed trap", s.banned, burstSize)
	waitNoIblock(t)
}

// TestBurstThroughSystemdSocketActivateIsBanned runs the burst through
// systemd-socket-activate, which has no connection limit of its own: the
// peak of iblocks at once is what MaxConnections must allow.
func TestBurstThroughSystemdSocketActivateIsBanned(t *testing.T) {
	n := newTestNet(t)
	n.loadNftExample()
	socket := n.startSocketActivate()
	results, peak := n.burst()
	s := summarize(results, n.elementSet("iblocked"))
	report(t, "%v; at most %d iblocks at once (the socket's MaxConnections is %s)", s, peak, socket["MaxConnections"])
	if s.banned != burstSize {
		t.Errorf("%d of %d scanners banned; failures: %q", s.banned, burstSize, first(s.failed, 5))
	}
	if limit := mustAtoi(socket["MaxConnections"]); peak > limit {
		t.Errorf("%d iblocks ran at once, more than the socket's MaxConnections of %d", peak, limit)
	}
	waitNoIblock(t)
}
