package boot

// Bans kept by a booted Debian through what administrators and machines
// do: reloads and restarts of the firewall's unit, a reboot after which
// the downtime is taken off each ban, a damaged saved file, a power cut.
// For nft (nftables.service with the drop-in) and for ipset
// (iblock-iptables.service), installed as doc/linux.md says.

import (
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

// The units doc/linux.md enables for the ipset setup.
var ipsetEnabledUnits = []string{"iblock-iptables.service", "iblock-save@ipset.timer"}

// installIpsetFiles installs iblock into root with make install and
// enables the ipset setup's units.
func installIpsetFiles(t *testing.T, root string) {
	t.Helper()
	testkit.MakeInstall(t, root)
	systemctlEnable(t, root, ipsetEnabledUnits...)
}

func systemctlEnable(t *testing.T, root string, units ...string) {
	t.Helper()
	testkit.MustCombined(t, exec.Command(testkit.NeedTool(t, "systemctl"), append([]string{"--root=" + root, "enable"}, units...)...))
}

// saveable keeps of an nft state the sets iblock-sets saves.
func saveable(s setState) setState { return nftBackend.saved(s) }

// setsBackend is what these tests need of nft or ipset: iblock-sets' first
// argument, the allow set, an element that passes iblock-sets' checks and
// that the firewall rejects in iblocked, and the sets' reader.
type setsBackend struct {
	name, allow, rejected string
	state                 func(n *testNet) setState
}

var (
	// A prefix, in a set without the interval flag.
	nftBackend = setsBackend{"nft", "allowed", "192.0.2.0/24", (*testNet).nftSets}
	// hash:net takes no /0.
	ipsetBackend = setsBackend{"ipset", "iblock_allow", "192.0.2.0/0", (*testNet).ipsetSets}
)

// saved keeps of s the sets iblock-sets saves.
func (b setsBackend) saved(s setState) setState { return s.Saved(b.allow) }

// ipsetSets reads every ipset in the server namespace.
func (n *testNet) ipsetSets() setState {
	n.T.Helper()
	return testkit.SecondsLeft(n.IpsetSets())
}

// bootedSets is one setup of the booted tests.
type bootedSets struct {
	setsBackend
	unit string // the unit that loads the sets and keeps them
	boot func(t *testing.T) (*container, *testNet, string)
	// ban adds a ban: seconds left, or 0 for the set's timeout.
	ban func(c *container, set, addr string, seconds int)
}

var bootedSetups = []bootedSets{
	{nftBackend, "nftables.service", bootInstalled, func(c *container, set, addr string, seconds int) {
		elem := addr
		if seconds > 0 {
			elem += " timeout 1h expires " + strconv.Itoa(seconds) + "s"
		}
		c.MustRun("nft", "add", "element", "inet", "iblock", set, "{ "+elem+" }")
	}},
	{ipsetBackend, "iblock-iptables.service", bootIpset, func(c *container, set, addr string, seconds int) {
		args := []string{"ipset", "add", set, addr}
		if seconds > 0 {
			args = append(args, "timeout", strconv.Itoa(seconds))
		}
		c.MustRun(args...)
	}},
}

// bootIpset boots a clean system with the ipset setup installed.
func bootIpset(t *testing.T) (*container, *testNet, string) {
	t.Helper()
	testkit.NeedRoot(t)
	root := testkit.OverlayRoot(t)
	installIpsetFiles(t, root)
	n := newTestNet(t)
	return bootContainer(t, n, root), n, root
}

// TestFirewallReloadAndRestartKeepTheBans reloads and restarts the unit
// that loads the sets, nftables.service and iblock-iptables.service, each
// after a new ban: every saved set keeps its elements and their remaining
// time.
func TestFirewallReloadAndRestartKeepTheBans(t *testing.T) {
	for _, b := range bootedSetups {
		t.Run(b.name, func(t *testing.T) {
			c, n, _ := b.boot(t)
			plantBans(c, b)
			for i, op := range []string{"reload", "restart"} {
				// A ban made since the last save: only this save keeps it.
				b.ban(c, "iblocked", testkit.BurstAddress(1030+i), 0)
				before := b.saved(b.state(n))
				start := time.Now()
				c.MustRun("systemctl", op, b.unit)
				took := time.Since(start)
				after := b.saved(b.state(n))
				wantSameBans(t, before, after, int64(took.Seconds())+1)
				if state := strings.TrimSpace(c.MustRun("systemctl", "is-active", b.unit)); state != "active" {
					t.Errorf("after systemctl %s, %s is %s", op, b.unit, state)
				}
				testkit.Report(t, "%s: systemctl %s %s took %v; %d elements in %d sets kept", b.name, op, b.unit,
					took.Round(10*time.Millisecond), after.Count(), len(after))
			}
			if b.name == "ipset" {
				rules := c.MustRun("iptables-save")
				if k := strings.Count(rules, "--match-set iblocked src -j DROP"); k != 1 {
					t.Errorf("after a reload and a restart the drop rule is there %d times:\n%s", k, rules)
				}
			}
		})
	}
}

// allowedAtRunTime is added to the allow set while the system runs.
const allowedAtRunTime = "198.51.100.77"

// plantBans adds a ban with twenty minutes left in each family, one with
// the set's whole timeout, and an allowed address.
func plantBans(c *container, b bootedSets) {
	b.ban(c, "iblocked", timedBan4, 1200)
	b.ban(c, "iblocked6", timedBan6, 1200)
	b.ban(c, "iblocked", savedBan, 0)
	b.ban(c, b.allow, allowedAtRunTime, 0)
}

// offFor is how long the reboot test keeps the system off.
const offFor = 15 * time.Second

// TestBansComeBackAfterARebootLessTheDowntime powers the system off,
// adds to the saved file a line the firewall rejects, boots it again
// 15 s later,
// and expects each ban back with the wall-clock time it had left: what
// it had at the poweroff less the time since. The bad line is reported,
// the file kept aside, and the unit active. Then, for ipset (the nft
// setup's own test does it), a power cut loses only what came after the
// last hourly save.
func TestBansComeBackAfterARebootLessTheDowntime(t *testing.T) {
	for _, b := range bootedSetups {
		t.Run(b.name, func(t *testing.T) {
			c, n, root := b.boot(t)
			plantBans(c, b)
			before := b.saved(b.state(n))
			start := time.Now()
			c.Poweroff()
			down := time.Now()
			saved := filepath.Join(root, "var/lib/iblock/sets."+b.name)
			badLine := spoilSaved(t, saved, b.rejected)
			// The downtime itself, the system off: long enough that a
			// restore that did not take it off shows it.
			time.Sleep(time.Until(down.Add(offFor)))
			n2 := newTestNet(t)
			c2 := bootContainer(t, n2, root)
			downtime := time.Since(down)
			after := b.saved(b.state(n2))
			elapsed := time.Since(start)
			wantSameBans(t, before, after, int64(elapsed.Seconds())+1)
			lost := before["iblocked"][timedBan4] - after["iblocked"][timedBan4]
			// nft and ipset show whole seconds: a second either way.
			if lost < int64(elapsed.Seconds())-1 {
				t.Errorf("%s had %d s left, %v later (%v down) it has %d s: the downtime was not taken off",
					timedBan4, before["iblocked"][timedBan4], elapsed.Round(time.Second), downtime.Round(time.Second), after["iblocked"][timedBan4])
			}
			testkit.Report(t, "%s: %v from the poweroff to the restore (%v down): %s had %d s left, then %d s",
				b.name, elapsed.Round(100*time.Millisecond), downtime.Round(100*time.Millisecond), timedBan4,
				before["iblocked"][timedBan4], after["iblocked"][timedBan4])
			if state := strings.TrimSpace(c2.MustRun("systemctl", "is-active", b.unit)); state != "active" {
				t.Errorf("with a damaged file %s is %s", b.unit, state)
			}
			if msgs := strings.Join(c2.JournalMessages("-u", b.unit), "\n"); !strings.Contains(msgs, "sets."+b.name+":"+badLine+": rejected") {
				t.Errorf("the journal of %s does not report line %s:\n%s", b.unit, badLine, msgs)
			}
			if aside, _ := filepath.Glob(saved + ".damaged-*"); len(aside) != 1 {
				t.Errorf("want the damaged file kept aside once, got %q", aside)
			}
			if b.name == "ipset" {
				powerCutKeepsTheLastSave(t, c2, n2, b, root)
			}
		})
	}
}

// spoilSaved puts before the saved file's last line an element that the
// firewall rejects, and counts it in that line, and returns its number.
func spoilSaved(t *testing.T, file, rejected string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("nothing saved at the poweroff: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	last := len(lines) - 1
	m := regexp.MustCompile(`^# end (\d+)$`).FindStringSubmatch(lines[last])
	if m == nil {
		t.Fatalf("the saved file ends in %q", lines[last])
	}
	bad := "iblocked " + rejected + " - " + strconv.FormatInt(time.Now().Unix()+3600, 10)
	lines = append(lines[:last], bad, "# end "+strconv.Itoa(testkit.MustAtoi(m[1])+1))
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(last + 1)
}

// powerCutKeepsTheLastSave bans an address, saves as iblock-save@.timer
// does every hour, bans another, and cuts the power: the first comes
// back, the second does not.
func powerCutKeepsTheLastSave(t *testing.T, c *container, n *testNet, b bootedSets, root string) {
	timer := "iblock-save@" + b.name + ".timer"
	if state := strings.TrimSpace(c.MustRun("systemctl", "is-active", timer)); state != "active" {
		t.Errorf("%s is %s", timer, state)
	}
	b.ban(c, "iblocked", afterReboot, 0)
	c.MustRun("systemctl", "start", "iblock-save@"+b.name+".service")
	saved := b.saved(b.state(n))
	savedAt := time.Now()
	b.ban(c, "iblocked", unsavedBan, 0)
	c.PowerCut()
	n2 := newTestNet(t)
	bootContainer(t, n2, root)
	after := b.saved(b.state(n2))
	wantSameBans(t, saved, after, int64(time.Since(savedAt).Seconds())+1)
	if _, ok := after["iblocked"][unsavedBan]; ok {
		t.Errorf("%s, banned after the last save, came back after a power cut", unsavedBan)
	}
	testkit.Report(t, "%s: a power cut kept the %d elements of the last save", b.name, after.Count())
}

// slowReload makes nftables.service's reload wait 5 s between its load,
// which empties the sets, and its restore: the window an hourly save
// could fall into.
const slowReload = `[Service]
ExecReload=
ExecReload=-/usr/sbin/iblock-sets nft save
ExecReload=/usr/sbin/nft -f /etc/nftables.conf
ExecReload=/bin/sleep 5
ExecReload=-/usr/sbin/iblock-sets nft restore
`

// TestHourlySaveWaitsForTheFirewallsReload starts the hourly save while
// nftables.service reloads, between the load that empties the sets and
// the restore: systemd holds the save until the reload is done, so it
// saves the bans, not the empty sets.
func TestHourlySaveWaitsForTheFirewallsReload(t *testing.T) {
	c, n, root := bootInstalled(t)
	plantBans(c, bootedSetups[0])
	// After the package's drop-in (iblock.conf), whose reload it replaces.
	dropIn := filepath.Join(root, "etc/systemd/system/nftables.service.d/slow.conf")
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dropIn, []byte(slowReload), 0o644); err != nil {
		t.Fatal(err)
	}
	c.MustRun("systemctl", "daemon-reload")
	c.MustRun("systemctl", "reload", "--no-block", "nftables.service")
	testkit.WaitUntil(t, 30*time.Second, "nftables.service did not empty the sets", func() bool {
		return len(n.nftSets()["iblocked"]) == 0
	})
	start := time.Now()
	c.MustRun("systemctl", "start", "iblock-save@nft.service")
	held := time.Since(start)
	saved, err := os.ReadFile(filepath.Join(root, "var/lib/iblock/sets.nft"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), "iblocked "+timedBan4+" ") {
		t.Errorf("a save during the reload wrote the empty sets:\n%s", saved)
	}
	testkit.WaitUntil(t, 30*time.Second, "nftables.service did not finish its reload", func() bool {
		return strings.TrimSpace(c.MustRun("systemctl", "show", "-P", "ActiveState", "nftables.service")) == "active"
	})
	if _, ok := n.nftSets()["iblocked"][timedBan4]; !ok {
		t.Errorf("%s is gone after the reload and the save", timedBan4)
	}
	testkit.Report(t, "a save started during a reload waited %v for it", held.Round(100*time.Millisecond))
}
