package examples

// examples/linux/iblock-sets against real nft and ipset sets in a network
// namespace: concurrent saves, damaged files, downtime, and its cost at
// the sets' full size.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// setsBackend is what the tests of iblock-sets need of nft or ipset.
type setsBackend struct {
	name string // iblock-sets' first argument
	// load creates the kernel-side sets of the examples.
	load func(n *testkit.Net)
	// fill adds elements to a set in one command file: addresses, and
	// the seconds each has left (0: the set's timeout).
	fill func(n *testkit.Net, set string, addrs []string, seconds int)
	// flush empties a set.
	flush func(n *testkit.Net, set string)
	// state reads the sets: set → element → seconds left (-1: none).
	state func(n *testkit.Net) setState
	// allow is the allow set; rejected is an element that passes
	// iblock-sets' checks and that the firewall rejects in iblocked.
	allow, rejected string
}

var setsBackends = []setsBackend{nftBackend, ipsetBackend}

var (
	nftBackend = setsBackend{name: "nft", load: func(n *testkit.Net) { n.LoadKernelNft() },
		fill: nftFillSet, flush: func(n *testkit.Net, set string) { n.MustRun("nft", "flush", "set", "inet", "iblock", set) },
		state: func(n *testkit.Net) setState { return testkit.SecondsLeft(n.NftSets()) },
		// A prefix, in a set without the interval flag.
		allow: "allowed", rejected: "192.0.2.0/24"}
	ipsetBackend = setsBackend{name: "ipset", load: func(n *testkit.Net) {
		n.RunInput("examples/linux/ipset.conf", testkit.NeedTool(n.T, "ipset"), "-exist", "restore")
	},
		fill: ipsetFillSet, flush: func(n *testkit.Net, set string) { n.MustRun("ipset", "flush", set) },
		state: func(n *testkit.Net) setState { return testkit.SecondsLeft(n.IpsetSets()) },
		// hash:net takes no /0.
		allow: "iblock_allow", rejected: "192.0.2.0/0"}
)

// nftFillSet adds the addresses to an nft set, a thousand to a command.
func nftFillSet(n *testkit.Net, set string, addrs []string, seconds int) {
	n.T.Helper()
	var b strings.Builder
	for i, a := range addrs {
		if i%1000 == 0 {
			if i > 0 {
				b.WriteString("}\n")
			}
			fmt.Fprintf(&b, "add element inet iblock %s {\n", set)
		}
		if seconds > 0 {
			fmt.Fprintf(&b, "%s timeout 1h expires %ds,\n", a, seconds)
		} else {
			fmt.Fprintf(&b, "%s,\n", a)
		}
	}
	b.WriteString("}\n")
	n.RunInput(testkit.WriteTemp(n.T, "input", b.String()), "nft", "-f", "-")
}

// ipsetFillSet adds the addresses to an ipset with ipset restore.
func ipsetFillSet(n *testkit.Net, set string, addrs []string, seconds int) {
	n.T.Helper()
	var b strings.Builder
	for _, a := range addrs {
		if seconds > 0 {
			fmt.Fprintf(&b, "add %s %s timeout %d\n", set, a, seconds)
		} else {
			fmt.Fprintf(&b, "add %s %s\n", set, a)
		}
	}
	n.RunInput(testkit.WriteTemp(n.T, "input", b.String()), "ipset", "-exist", "restore")
}

// setState is what a save and restore of the sets must keep.
type setState = testkit.SetState

// docAddresses returns k IPv4 addresses of 198.18.0.0/15, k ≤ 131072.
func docAddresses(k int) []string {
	addrs := make([]string, k)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("198.%d.%d.%d", 18+i>>16, i>>8&255, i&255)
	}
	return addrs
}

// docAddresses6 returns k IPv6 addresses of 2001:db8::/32.
func docAddresses6(k int) []string {
	addrs := make([]string, k)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
	}
	return addrs
}

// setsScript is iblock-sets as the source tree ships it.
func setsScript(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs("examples/linux/iblock-sets")
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// TestIblockSetsConcurrentSavesLeaveACompleteFile runs twenty pairs of
// saves at once, for nft and ipset: each leaves the whole file, and no
// temporary file is left beside it.
func TestIblockSetsConcurrentSavesLeaveACompleteFile(t *testing.T) {
	for _, b := range setsBackends {
		t.Run(b.name, func(t *testing.T) {
			n := testkit.NewNet(t)
			script := setsScript(t)
			b.load(n)
			b.fill(n, "iblocked", docAddresses(50), 0)
			dir := t.TempDir()
			file := filepath.Join(dir, "sets")
			n.MustRun(script, b.name, "save", file)
			want, _ := os.ReadFile(file)
			for pair := 1; pair <= 20; pair++ {
				saves := []*exec.Cmd{n.Command(script, b.name, "save", file), n.Command(script, b.name, "save", file)}
				for _, s := range saves {
					if err := s.Start(); err != nil {
						t.Fatal(err)
					}
				}
				for _, s := range saves {
					if err := s.Wait(); err != nil {
						t.Errorf("pair %d: a save failed: %v", pair, err)
					}
				}
				got, _ := os.ReadFile(file)
				if lines(got) != lines(want) {
					t.Fatalf("pair %d of saves at once left %d bytes, %d lines; one save alone writes %d lines:\n%s",
						pair, len(got), lines(got), lines(want), got)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !regexp.MustCompile(`^sets(\.lock|\.restored)?$`).MatchString(e.Name()) {
					t.Errorf("saves left %s beside the file", e.Name())
				}
			}
			testkit.Report(t, "%s: 20 pairs of saves at once, each left the whole file, %d lines", b.name, lines(want))
		})
	}
}

func lines(b []byte) int { return strings.Count(string(b), "\n") }

// damages are what can happen to a saved file of ten bans, its first
// line the header, then the bans (lines 2 to 11), the allow set, and
// the trailer; each with the bans that must come back and the line the
// report must name ("" for the file as a whole).
var damages = []struct {
	name     string
	damage   func(b setsBackend, data []byte) []byte
	restored int
	line     string
}{
	{"cut in the middle of the sixth ban", func(_ setsBackend, d []byte) []byte {
		return d[:lineStart(d, 7)+14]
	}, 5, ":7: "},
	{"cut after the last ban", func(_ setsBackend, d []byte) []byte {
		return d[:lineStart(d, 12)]
	}, 10, ": cut short after line 11"},
	{"empty", func(setsBackend, []byte) []byte { return nil }, 0, ": empty"},
	{"every element line lost", func(_ setsBackend, d []byte) []byte {
		return append(append([]byte(nil), d[:lineStart(d, 2)]...), d[lineStart(d, lines(d)):]...)
	}, 0, ":2: lines lost: 0 elements, "},
	{"zero-filled", func(_ setsBackend, d []byte) []byte { return make([]byte, len(d)) }, 0, ":1: "},
	{"an element the firewall rejects in the fourth ban", func(b setsBackend, d []byte) []byte {
		fifth := d[lineStart(d, 5):lineStart(d, 6)]
		bad := regexp.MustCompile(`^iblocked \S+ `).ReplaceAll(fifth, []byte("iblocked "+b.rejected+" "))
		return append(append(append([]byte(nil), d[:lineStart(d, 5)]...), bad...), d[lineStart(d, 6):]...)
	}, 9, ":5: rejected"},
}

// lineStart returns the offset of line k (from 1) of data.
func lineStart(data []byte, k int) int {
	off := 0
	for i := 1; i < k; i++ {
		off += strings.IndexByte(string(data[off:]), '\n') + 1
	}
	return off
}

// TestIblockSetsRestoresTheGoodLinesOfADamagedFile damages a saved file of
// ten bans in each way of damages, for nft and ipset: the bans still
// whole come back, the report names the bad line, the file is kept aside
// as it was, and the next save leaves that copy alone.
func TestIblockSetsRestoresTheGoodLinesOfADamagedFile(t *testing.T) {
	for _, b := range setsBackends {
		t.Run(b.name, func(t *testing.T) {
			n := testkit.NewNet(t)
			script := setsScript(t)
			b.load(n)
			b.fill(n, "iblocked", docAddresses(10), 0)
			good := filepath.Join(t.TempDir(), "good")
			n.MustRun(script, b.name, "save", good)
			data, _ := os.ReadFile(good)
			if l := strings.Split(string(data), "\n"); len(l) < 12 || !strings.HasPrefix(l[10], "iblocked ") || strings.HasPrefix(l[11], "iblocked ") {
				t.Fatalf("the saved file is not header, ten bans, the rest:\n%s", data)
			}
			for _, d := range damages {
				dir := t.TempDir()
				file := filepath.Join(dir, "sets")
				damaged := d.damage(b, data)
				os.WriteFile(file, damaged, 0o600)
				b.flush(n, "iblocked")
				out, err := n.Run(script, b.name, "restore", file)
				if code := exitCode(err); code != 1 {
					t.Errorf("%s: restore exited %d, want 1: %s", d.name, code, out)
				}
				if got := len(b.state(n)["iblocked"]); got != d.restored {
					t.Errorf("%s: %d of 10 bans came back, want %d: %s", d.name, got, d.restored, out)
				}
				if !strings.Contains(out, file+d.line) {
					t.Errorf("%s: the report does not name %q:\n%s", d.name, file+d.line, out)
				}
				aside, _ := filepath.Glob(file + ".damaged-*")
				if len(aside) != 1 {
					t.Errorf("%s: want the file kept aside once, got %q", d.name, aside)
					continue
				}
				n.MustRun(script, b.name, "save", file)
				if kept, _ := os.ReadFile(aside[0]); string(kept) != string(damaged) {
					t.Errorf("%s: the copy kept aside differs from the damaged file", d.name)
				}
				testkit.Report(t, "%s, %s: %d of 10 bans restored; it said:\n%s", b.name, d.name, d.restored,
					strings.TrimSpace(strings.ReplaceAll(out, dir+"/", "")))
			}
		})
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	return -1
}

// TestIblockSetsRefusesToOverwriteBansNotRestoredSinceBoot: after a boot
// (another boot id in the marker) and before a restore, a save must not
// replace the file, which holds the only copy of the bans.
func TestIblockSetsRefusesToOverwriteBansNotRestoredSinceBoot(t *testing.T) {
	for _, b := range setsBackends {
		t.Run(b.name, func(t *testing.T) {
			n := testkit.NewNet(t)
			script := setsScript(t)
			b.load(n)
			b.fill(n, "iblocked", docAddresses(10), 0)
			file := filepath.Join(t.TempDir(), "sets")
			n.MustRun(script, b.name, "save", file)
			before, _ := os.ReadFile(file)
			os.WriteFile(file+".restored", []byte("00000000-0000-0000-0000-000000000000\n"), 0o600)
			b.flush(n, "iblocked")
			if out, err := n.Run(script, b.name, "save", file); err == nil {
				t.Errorf("a save before the restore succeeded: %s", out)
			}
			if after, _ := os.ReadFile(file); string(after) != string(before) {
				t.Errorf("a save before the restore changed the file:\n%s", after)
			}
			n.MustRun(script, b.name, "restore", file)
			n.MustRun(script, b.name, "save", file)
			if got := len(b.state(n)["iblocked"]); got != 10 {
				t.Errorf("%d of 10 bans after the restore", got)
			}
		})
	}
}

// TestIblockSetsTakesTheDowntimeOff restores a file saved 30 s ago (its
// times moved back by 30 s): each ban has 30 s less than it had at the
// save, at least 27 s less, and a ban with 10 s left is gone.
func TestIblockSetsTakesTheDowntimeOff(t *testing.T) {
	const down = 30
	for _, b := range setsBackends {
		t.Run(b.name, func(t *testing.T) {
			n := testkit.NewNet(t)
			script := setsScript(t)
			b.load(n)
			b.fill(n, "iblocked", []string{"192.0.2.10"}, 1200)
			b.fill(n, "iblocked", []string{"192.0.2.11"}, 10)
			b.fill(n, "iblocked6", []string{"2001:db8::10"}, 0)
			file := filepath.Join(t.TempDir(), "sets")
			n.MustRun(script, b.name, "save", file)
			before := b.state(n)
			data, _ := os.ReadFile(file)
			os.WriteFile(file, movedBack(t, data, down), 0o600)
			for _, set := range []string{"iblocked", "iblocked6"} {
				b.flush(n, set)
			}
			n.MustRun(script, b.name, "restore", file)
			after := b.state(n)
			if _, ok := after["iblocked"]["192.0.2.11"]; ok {
				t.Errorf("a ban with 10 s left came back after %d s down", down)
			}
			for set, addr := range map[string]string{"iblocked": "192.0.2.10", "iblocked6": "2001:db8::10"} {
				was, now := before[set][addr], after[set][addr]
				if was-now < down-3 || was-now > down+3 {
					t.Errorf("%s had %d s left at the save and %d s after %d s down", addr, was, now, down)
				}
				testkit.Report(t, "%s: %s had %d s left at the save, %d s after a restore %d s later", b.name, addr, was, now, down)
			}
		})
	}
}

// movedBack moves every time of a saved file back by seconds: the save
// time of its header and each element's expiry.
func movedBack(t *testing.T, data []byte, seconds int64) []byte {
	t.Helper()
	var out []string
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Fields(line)
		last := len(f) - 1
		if i > 0 && f[0] == "#" {
			out = append(out, line)
			continue
		}
		if v, err := strconv.ParseInt(f[last], 10, 64); err == nil {
			f[last] = strconv.FormatInt(v-seconds, 10)
		} else if f[last] != "-" {
			t.Fatalf("line %d of the saved file ends in no time: %q", i+1, line)
		}
		out = append(out, strings.Join(f, " "))
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// TestIblockSetsCostAgainstSetSize fills iblocked and iblocked6 with
// 10 000, 65 536, 131 072 and 262 144 bans in all, half in each (at most
// what the sets hold), then
// times a save and a restore of them, for nft and ipset, and prints the
// time, the CPU and the peak memory of the largest process.
func TestIblockSetsCostAgainstSetSize(t *testing.T) {
	for _, b := range setsBackends {
		t.Run(b.name, func(t *testing.T) {
			n := testkit.NewNet(t)
			script := setsScript(t)
			b.load(n)
			capacity := setCapacity(t, n, b)
			for _, size := range []int{10000, 65536, 131072, 262144} {
				if size-size/2 > capacity {
					testkit.Report(t, "%s: each set holds %d, not %d", b.name, capacity, size-size/2)
					continue
				}
				for _, set := range []string{"iblocked", "iblocked6"} {
					b.flush(n, set)
				}
				half := size / 2
				b.fill(n, "iblocked", docAddresses(half), 0)
				b.fill(n, "iblocked6", docAddresses6(size-half), 0)
				file := filepath.Join(t.TempDir(), "sets")
				save := measure(t, n, script, b.name, "save", file)
				for _, set := range []string{"iblocked", "iblocked6"} {
					b.flush(n, set)
				}
				restore := measure(t, n, script, b.name, "restore", file)
				got := b.state(n)
				if k := len(got["iblocked"]) + len(got["iblocked6"]); k != size {
					t.Errorf("%s: %d of %d bans restored", b.name, k, size)
				}
				info, _ := os.Stat(file)
				testkit.Report(t, "%s, %d bans (%d KB file): save %v, restore %v", b.name, size, info.Size()>>10, save, restore)
			}
		})
	}
}

// setCapacity is the smaller size of iblocked and iblocked6: what each
// can hold.
func setCapacity(t *testing.T, n *testkit.Net, b setsBackend) int {
	t.Helper()
	size := regexp.MustCompile(`(?:\bsize|maxelem) (\d+)`)
	capacity := 1 << 30
	for _, set := range []string{"iblocked", "iblocked6"} {
		var out string
		if b.name == "nft" {
			out = n.MustRun("nft", "-t", "list", "set", "inet", "iblock", set)
		} else {
			out = n.MustRun("ipset", "-t", "list", set)
		}
		m := size.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no size in %s", out)
		}
		capacity = min(capacity, testkit.MustAtoi(m[1]))
	}
	return capacity
}

// cost is what one run of iblock-sets took: wall time, CPU time, and the
// peak memory of its largest process.
type cost struct {
	wall, cpu time.Duration
	peakKB    int64
}

func (c cost) String() string {
	return fmt.Sprintf("%v (CPU %v, peak %d MB)", c.wall.Round(10*time.Millisecond), c.cpu.Round(10*time.Millisecond), c.peakKB>>10)
}

// measure runs iblock-sets under GNU time in the server namespace. Not
// wait4 from here: it charges a child with the peak memory of the
// process that forked it, this test binary.
func measure(t *testing.T, n *testkit.Net, args ...string) cost {
	t.Helper()
	out := filepath.Join(t.TempDir(), "time")
	n.MustRun(append([]string{testkit.NeedTool(t, "time"), "-o", out, "-f", "%e %U %S %M"}, args...)...)
	data, _ := os.ReadFile(out)
	var wall, user, sys float64
	var peak int64
	if _, err := fmt.Sscan(string(data), &wall, &user, &sys, &peak); err != nil {
		t.Fatalf("time: %v: %q", err, data)
	}
	seconds := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	return cost{seconds(wall), seconds(user + sys), peak}
}
