package boot

// The Linux setup, booted for real: a Debian system with systemd as PID 1,
// iblock's package installed and switched on as doc/linux.md says, the
// ruleset loaded by nftables.service, and scanners outside the container.

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// Scanners of the booted system's tests, each used once, from the scanner
// namespace's routed range and clear of the burst's addresses.
var (
	synScanner  = testkit.BurstAddress(1018) // nmap -sS
	probeSource = testkit.BurstAddress(1019) // the hardening probe
	afterReboot = testkit.BurstAddress(1020) // the trap, once rebooted
	savedBan    = testkit.BurstAddress(1021) // banned before the hourly save
	unsavedBan  = testkit.BurstAddress(1022) // banned after it
)

// Elements whose remaining time the reboot must keep: an hour's ban with
// twenty minutes left.
const (
	timedBan4 = "203.0.113.7"
	timedBan6 = "2001:db8:7::7"
)

// bootInstalled boots a clean system, installs the package there and
// switches the trap on as doc/linux.md says, in the server namespace of a
// new testNet that serves.
func bootInstalled(t *testing.T) (*container, *testNet, string) {
	t.Helper()
	testkit.NeedRoot(t)
	if testing.Short() {
		t.Skip("boots a system: not with -short")
	}
	deb := testkit.BuildDeb(t, installVersion)
	root := testkit.OverlayRoot(t)
	n := newTestNet(t)
	c := bootContainer(t, n, root)
	installPackage(t, c, deb)
	switchOn(t, c, "/usr")
	n.Serve()
	return c, n, root
}

func TestSystemdUnitsBanTheScannerUnderTheirHardening(t *testing.T) {
	c, n, _ := bootInstalled(t)
	unitsBan(t, c, n)
}

func TestNftablesServiceRulesetBansTheFirstSYNWithoutIblock(t *testing.T) {
	c, n, _ := bootInstalled(t)
	firstSYNBanned(t, c, n)
}

func TestSocketUnitTakesABurstOfAThousandAndStaysActive(t *testing.T) {
	c, n, _ := bootInstalled(t)
	burstThroughSocket(t, c, n)
}

func TestBansComeBackAfterPoweroffWithTheirTimeLeft(t *testing.T) {
	c, n, root := bootInstalled(t)
	bansSurvivePoweroff(t, c, n, root)
}

func TestPowerCutLosesOnlyTheBansSinceTheLastSave(t *testing.T) {
	c, n, root := bootInstalled(t)
	powerCutLosesUnsaved(t, c, n, root)
}

// unitsBan touches the trap from outside and checks that iblock ran as the
// unit says: the system user iblock, CAP_NET_ADMIN alone, no new privileges, a
// system call filter, and that its nft add worked.
func unitsBan(t *testing.T, c *container, n *testNet) {
	n.WaitListening(testkit.IblockPort)
	if v4, v6 := n.Listeners(testkit.IblockPort); v4 || !v6 {
		t.Errorf("want one dual-stack IPv6 socket, got IPv4 %v, IPv6 %v", v4, v6)
	}
	for _, f := range testkit.Families {
		n.WantScannerBannedAlone(f, n.NftSet, "iblock.socket in a booted system")
	}
	for _, f := range testkit.Families {
		e := c.waitJournal("iblock", "blocking "+f.Scanner)
		if !strings.HasPrefix(e["_SYSTEMD_UNIT"], "iblock@") {
			t.Errorf("blocking %s was logged by %q, not by iblock@.service", f.Scanner, e["_SYSTEMD_UNIT"])
		}
		wantIblockUser(t, c, e["_UID"])
		// CAP_NET_ADMIN is capability 12.
		if e["_CAP_EFFECTIVE"] != "1000" {
			t.Errorf("iblock ran with capabilities %s, want CAP_NET_ADMIN (1000) alone", e["_CAP_EFFECTIVE"])
		}
	}
	if errs := c.JournalMessages("-t", "iblock", "-p", "err"); len(errs) > 0 {
		t.Errorf("iblock logged errors: %q", errs)
	}
	if failed := c.MustRun("systemctl", "list-units", "--all", "--failed", "--no-legend", "iblock@*"); failed != "" {
		t.Errorf("failed iblock units:\n%s", failed)
	}
	hardeningProbe(t, c, n)
}

// wantIblockUser fails unless uid is the system user iblock's, which
// iblock.sysusers made: what the fleet's agent trusts (acquis.yaml).
func wantIblockUser(t *testing.T, c *container, uid string) {
	t.Helper()
	if want := strings.TrimSpace(c.MustRun("id", "-u", "iblock")); uid != want || uid == "0" {
		t.Errorf("iblock ran as uid %q, not as the user iblock (%s)", uid, want)
	}
}

// probeDropIn adds, for one connection, a first command under the same
// sandbox that logs the process's credentials, and points iblock at a set
// the kernel never adds to, so that the probe's ban is iblock's own work.
const probeDropIn = `[Service]
StandardOutput=journal
ExecStartPre=/usr/bin/grep -E "^(Uid|CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status
ExecStart=
ExecStart=/usr/sbin/iblock -d none probe
`

// hardeningProbe reads what the kernel says of a process of
// iblock@.service, and checks that iblock's own nft add works under it.
func hardeningProbe(t *testing.T, c *container, n *testNet) {
	dir := filepath.Join(c.Root, "etc/systemd/system/iblock@.service.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe.conf"), []byte(probeDropIn), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		os.RemoveAll(dir)
		c.MustRun("systemctl", "daemon-reload")
	}()
	c.MustRun("systemctl", "daemon-reload")
	c.MustRun("nft", "add", "set", "inet", "iblock", "probe", "{ type ipv4_addr; flags timeout; timeout 1h; }")
	defer c.MustRun("nft", "delete", "set", "inet", "iblock", "probe")
	n.TouchTrap(probeSource, testkit.Server4)
	testkit.WantElements(t, "probe", n.NftSet("probe"), probeSource)
	c.waitJournal("iblock", "blocking "+probeSource)
	status := map[string]string{}
	for _, line := range c.JournalMessages("-t", "grep") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.Fields(v)[0]
		}
	}
	wantIblockUser(t, c, status["Uid"])
	for k, want := range map[string]string{
		"CapEff": "0000000000001000", "CapPrm": "0000000000001000", "CapBnd": "0000000000001000",
		"CapAmb": "0000000000001000", "NoNewPrivs": "1", "Seccomp": "2",
	} {
		if status[k] != want {
			t.Errorf("a process of iblock@.service has %s %q, want %q", k, status[k], want)
		}
	}
	testkit.Report(t, "a process of iblock@.service: uid %s, capabilities %s, NoNewPrivs %s, seccomp mode %s",
		status["Uid"], status["CapEff"], status["NoNewPrivs"], status["Seccomp"])
}

// waitJournal waits for a journal entry of a tag whose message is msg.
func (c *container) waitJournal(tag, msg string) map[string]string {
	c.T.Helper()
	var found map[string]string
	testkit.WaitUntil(c.T, 10*time.Second, "the journal has no "+tag+" line "+msg, func() bool {
		for _, e := range c.Journal("-t", tag) {
			if e["MESSAGE"] == msg {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// socketAccepted returns how many connections iblock.socket has accepted.
func (c *container) socketAccepted() int {
	c.T.Helper()
	v, err := strconv.Atoi(strings.TrimSpace(c.MustRun("systemctl", "show", "-P", "NAccepted", "iblock.socket")))
	if err != nil {
		c.T.Fatal(err)
	}
	return v
}

// firstSYNBanned sends one SYN from nmap (-sS, no retries) to a trap port:
// the ruleset nftables.service loaded bans its source, and no iblock runs.
func firstSYNBanned(t *testing.T, c *container, n *testNet) {
	if state := c.MustRun("systemctl", "is-active", "nftables.service"); strings.TrimSpace(state) != "active" {
		t.Fatalf("nftables.service is %s", state)
	}
	accepted := c.socketAccepted()
	n.synScan(synScanner)
	banned := false
	for _, elems := range n.nftSets() {
		if _, ok := elems[synScanner]; ok {
			banned = true
		}
	}
	if !banned {
		t.Errorf("no set holds %s after its SYN: %v", synScanner, n.nftSets())
	}
	n.WantReach(testkit.Server4, map[string]bool{synScanner: false, testkit.Bystander4: true})
	if got := c.socketAccepted(); got != accepted {
		t.Errorf("iblock.socket accepted %d connections during the SYN scan", got-accepted)
	}
	for _, m := range c.JournalMessages("-t", "iblock") {
		if strings.Contains(m, synScanner) {
			t.Errorf("iblock ran for the SYN scanner: %q", m)
		}
	}
}

// burstThroughSocket sends a burst of scanners through iblock.socket and
// expects each to have had its iblock, once, the socket still active, and
// nothing left running. The scanners give up after 15 s; iblock still
// bans those whose turn came later, so the bans are counted in the
// journal and the set, not by the scanners.
func burstThroughSocket(t *testing.T, c *container, n *testNet) {
	accepted := c.socketAccepted()
	start := time.Now()
	peakUnits := testkit.SamplePeak(c.runningUnits)
	results, _ := n.Burst()
	logged := map[string]int{}
	testkit.Eventually(5*time.Minute, func() bool {
		logged = c.burstBans()
		return len(logged) == testkit.BurstSize
	})
	testkit.WaitUntil(t, time.Minute, "iblock units still run after the burst", func() bool {
		return c.MustRun("systemctl", "list-units", "--all", "--no-legend", "iblock@*") == ""
	})
	took := time.Since(start)
	peak := peakUnits()
	logged = c.burstBans()
	s := testkit.Summarize(results, n.NftAddresses("iblocked"))
	testkit.Report(t, "%d scanners banned by iblock in %v, %.1f a second; at most %d iblock units at once, %d started in the busiest 2 s",
		len(logged), took.Round(100*time.Millisecond), float64(len(logged))/took.Seconds(), peak, busiestWindow(c.unitStarts(), 2*time.Second))
	testkit.Report(t, "as the scanners saw it: %v", s)
	for i := 1; i <= testkit.BurstSize; i++ {
		if k := logged[testkit.BurstAddress(i)]; k != 1 {
			t.Errorf("iblock logged %s as blocked %d times, want once", testkit.BurstAddress(i), k)
		}
	}
	if inSet := len(n.NftAddresses("iblocked")); inSet < testkit.BurstSize {
		t.Errorf("%d addresses in iblocked after a burst of %d", inSet, testkit.BurstSize)
	}
	if got := c.socketAccepted() - accepted; got != testkit.BurstSize {
		t.Errorf("iblock.socket accepted %d connections of the burst, want %d", got, testkit.BurstSize)
	}
	if limit := testkit.MustAtoi(testkit.UnitSettings(t, "linux/iblock.socket")["MaxConnections"]); peak > limit {
		t.Errorf("%d iblocks ran at once, more than MaxConnections=%d", peak, limit)
	}
	for prop, want := range map[string]string{"ActiveState": "active", "Result": "success"} {
		if got := strings.TrimSpace(c.MustRun("systemctl", "show", "-P", prop, "iblock.socket")); got != want {
			t.Errorf("after the burst iblock.socket's %s is %q, want %q", prop, got, want)
		}
	}
	if errs := c.JournalMessages("-t", "iblock", "-p", "err"); len(errs) > 0 {
		t.Errorf("iblock logged %d errors, the first: %q", len(errs), testkit.First(errs, 3))
	}
}

// burstBans counts iblock's "blocking" lines for each burst address.
func (c *container) burstBans() map[string]int {
	logged := map[string]int{}
	for _, m := range c.JournalMessages("-t", "iblock") {
		if addr, ok := strings.CutPrefix(m, "blocking "); ok && strings.HasPrefix(addr, "198.18.") {
			logged[addr]++
		}
	}
	return logged
}

// synScan sends a single SYN to the trap port from the scanner namespace,
// with nmap -sS from address from and no retries.
func (n *testNet) synScan(from string) {
	n.T.Helper()
	scan := exec.Command("ip", "netns", "exec", n.Scanner, testkit.NeedTool(n.T, "nmap"), "-n", "-Pn", "-sS",
		"--max-retries", "0", "-e", "veth0", "-S", from, "-p", testkit.TrapPort, testkit.Server4)
	if out, err := scan.CombinedOutput(); err != nil {
		n.T.Fatalf("nmap: %v\n%s", err, out)
	}
}

// busiestWindow returns the most events within any window of that length.
func busiestWindow(times []time.Time, window time.Duration) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) > window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// unitStarts returns when systemd started each iblock@ unit: what the
// socket's trigger limit counts.
func (c *container) unitStarts() []time.Time {
	var starts []time.Time
	for _, e := range c.Journal("_PID=1") {
		if !strings.HasPrefix(e["MESSAGE"], "Started iblock@") {
			continue
		}
		if us, err := strconv.ParseInt(e["__REALTIME_TIMESTAMP"], 10, 64); err == nil {
			starts = append(starts, time.UnixMicro(us))
		}
	}
	return starts
}

// runningUnits counts the cgroups systemd in the container has for
// iblock@ units: one per unit that runs.
func (c *container) runningUnits() int {
	k := 0
	for _, dir := range c.Cgroups() {
		entries, _ := os.ReadDir(filepath.Join(dir, "payload/system.slice/system-iblock.slice"))
		for _, e := range entries {
			if e.IsDir() {
				k++
			}
		}
	}
	return k
}

// bansSurvivePoweroff plants a ban with twenty minutes left, powers off,
// boots again on fresh namespaces (the kernel's sets are gone), and
// expects every set back, each element with its time left.
func bansSurvivePoweroff(t *testing.T, c *container, n *testNet, root string) {
	for _, f := range testkit.Families {
		n.TouchTrap(f.Scanner, f.Server)
	}
	n.synScan(synScanner)
	c.MustRun("nft", "add", "element", "inet", "iblock", "iblocked", "{ "+timedBan4+" timeout 1h expires 20m }")
	c.MustRun("nft", "add", "element", "inet", "iblock", "iblocked6", "{ "+timedBan6+" timeout 1h expires 20m }")
	// The one-hour bans on a bare SYN are not saved.
	before := saveable(n.nftSets())
	saved := time.Now()
	took := c.Poweroff()
	n2 := newTestNet(t)
	if sets := n2.MustRun("nft", "list", "ruleset"); sets != "" {
		t.Fatalf("a fresh namespace has a ruleset:\n%s", sets)
	}
	c2 := bootContainer(t, n2, root)
	after := saveable(n2.nftSets())
	elapsed := time.Since(saved)
	testkit.Report(t, "poweroff took %v; %d elements in %d sets came back %v after the save",
		took.Round(10*time.Millisecond), after.Count(), len(after), elapsed.Round(100*time.Millisecond))
	wantSameBans(t, before, after, int64(elapsed.Seconds())+1)
	if left := after["iblocked"][timedBan4]; left > 20*60 || left < 15*60 {
		t.Errorf("%s has %d s left after the reboot, want a little under 1200", timedBan4, left)
	}
	n2.Serve()
	n2.WantReach(testkit.Server4, map[string]bool{testkit.Scanner4: false, testkit.Bystander4: true})
	n2.WantReach(testkit.Server6, map[string]bool{testkit.Scanner6: false, testkit.Bystander6: true})
	n2.TouchTrap(afterReboot, testkit.Server4)
	c2.waitJournal("iblock", "blocking "+afterReboot)
}

// powerCutLosesUnsaved bans one address, saves as iblock-save@nft.timer does
// every hour, bans another, and kills the system: what comes back is what
// the save held, and the README says the rest is lost.
func powerCutLosesUnsaved(t *testing.T, c *container, n *testNet, root string) {
	calendar := c.MustRun("systemctl", "show", "-P", "TimersCalendar", "iblock-save@nft.timer")
	if !strings.Contains(calendar, "OnCalendar=*-*-* *:00:00") || strings.TrimSpace(c.MustRun("systemctl", "is-active", "iblock-save@nft.timer")) != "active" {
		t.Errorf("iblock-save@nft.timer is not active every hour: %s", calendar)
	}
	n.TouchTrap(savedBan, testkit.Server4)
	c.MustRun("systemctl", "start", "iblock-save@nft.service")
	saved := saveable(n.nftSets())
	savedAt := time.Now()
	n.TouchTrap(unsavedBan, testkit.Server4)
	cut := saveable(n.nftSets())
	if _, ok := cut["iblocked"][unsavedBan]; !ok {
		t.Fatalf("%s was not banned", unsavedBan)
	}
	c.PowerCut()
	n2 := newTestNet(t)
	bootContainer(t, n2, root)
	after := saveable(n2.nftSets())
	wantSameBans(t, saved, after, int64(time.Since(savedAt).Seconds())+1)
	lost := 0
	for set := range cut {
		for _, addr := range missing(cut.Addresses(set), after.Addresses(set)) {
			lost++
			if addr != unsavedBan {
				t.Errorf("the power cut lost %s from %s, which the last save held", addr, set)
			}
		}
	}
	testkit.Report(t, "a power cut lost %d of %d elements: those of the one address banned after the last save",
		lost, cut.Count())
}
