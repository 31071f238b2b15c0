package testkit

// A burst: BurstSize scanners at once from the scanner namespace against
// the trap ports, each from its own address (BurstAddress); Summarize
// sums up what they saw.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"
)

// burstPorts are the trap ports a burst spreads its scanners over.
const burstPorts = "23,445,1433,3389,5900"

// Burst runs a burst of BurstSize scanners from the scanner namespace
// against the trap ports of the server, and returns what each saw and
// the most iblocks (the one the tests built) that ran at once meanwhile.
func (n *Net) Burst() (results []burstResult, peak int) {
	n.T.Helper()
	exe, err := os.Executable()
	if err != nil {
		n.T.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.Scanner, exe)
	cmd.Env = append(os.Environ(), burstEnv+"="+Server4+":"+burstPorts)
	stop := SamplePeak(func() int { return len(IblockProcesses(n.T)) })
	out, err := cmd.Output()
	peak = stop()
	if err != nil {
		n.T.Fatalf("burst: %v", err)
	}
	if err := json.Unmarshal(out, &results); err != nil {
		n.T.Fatalf("burst: %v", err)
	}
	return results, peak
}

// SamplePeak calls count every 2 ms until the returned stop is called;
// stop returns the highest count seen.
func SamplePeak(count func() int) (stop func() int) {
	done, peakc := make(chan struct{}), make(chan int)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		peak := 0
		for {
			select {
			case <-done:
				peakc <- peak
				return
			case <-tick.C:
				peak = max(peak, count())
			}
		}
	}()
	return func() int { close(done); return <-peakc }
}

// IblockProcesses returns the pids of the running processes of the
// iblock the tests built.
func IblockProcesses(t testing.TB) []int {
	t.Helper()
	bin := Iblock(t)
	var pids []int
	for _, p := range processes(func(exe string) bool { return exe == bin }) {
		pids = append(pids, p.pid)
	}
	return pids
}

// burstSummary is what a burst achieved: how many scanners were banned,
// how fast, and how long each waited.
type burstSummary struct {
	Banned            int
	Failed            []string
	perSecond         float64
	median, p99, slow time.Duration
}

// Summarize counts as banned each scanner that connected, received
// nothing and whose address is in banned.
func Summarize(results []burstResult, banned map[string]bool) burstSummary {
	var s burstSummary
	var took []time.Duration
	first, last := results[0].Start, results[0].Start
	for _, r := range results {
		if r.Err != "" || r.Received != 0 || !banned[r.From] {
			s.Failed = append(s.Failed, r.From+": "+r.Err)
			continue
		}
		s.Banned++
		took = append(took, r.Took)
		if r.Start.Before(first) {
			first = r.Start
		}
		if end := r.Start.Add(r.Took); end.After(last) {
			last = end
		}
	}
	if len(took) == 0 {
		return s
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	s.median, s.p99, s.slow = took[len(took)/2], took[len(took)*99/100], took[len(took)-1]
	s.perSecond = float64(s.Banned) / last.Sub(first).Seconds()
	return s
}

func (s burstSummary) String() string {
	ms := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("%d of %d banned, %.0f bans/s; time to block: median %v, 99th percentile %v, slowest %v",
		s.Banned, BurstSize, s.perSecond, ms(s.median), ms(s.p99), ms(s.slow))
}
