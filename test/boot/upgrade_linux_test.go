package boot

// The package's life after its install: an upgrade with bans made and the
// trap ports edited, a removal, a purge.

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// editedTrap is the trap port the administrator adds before the upgrade.
const editedTrap = "2323"

// probe is one touch of the trap while the package changes.
type probe struct {
	from string
	at   time.Time
	err  error
}

// probeTrap touches the trap from a new address, one touch after the
// other and at most one every 100 ms, from the first-th burst address up
// to the last of the scanner's range, until stop is called, and returns
// the touches.
func (n *testNet) probeTrap(first int) (stop func() []probe) {
	done, finished := make(chan struct{}), make(chan struct{})
	var probes []probe
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := first; i < 1000; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			p := probe{from: testkit.BurstAddress(i), at: time.Now()}
			c, err := n.Dial(p.from, testkit.Server4, testkit.TrapPort, 2*time.Second)
			if err == nil {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = testkit.ReadAll(c)
				c.Close()
			}
			p.err = err
			probes = append(probes, p)
		}
	}()
	return func() []probe { close(done); <-finished; return probes }
}

// longestGap returns the longest time from a touch that iblock did not
// ban to the next one it banned.
func longestGap(probes []probe, banned func(probe) bool) time.Duration {
	var gap time.Duration
	var since time.Time
	for _, p := range probes {
		switch {
		case !banned(p) && since.IsZero():
			since = p.at
		case banned(p) && !since.IsZero():
			gap = max(gap, p.at.Sub(since))
			since = time.Time{}
		}
	}
	if !since.IsZero() {
		gap = max(gap, time.Since(since))
	}
	return gap
}

// wantBansKept fails the test unless after holds every element of before,
// each with the time it had left less at most elapsed seconds.
func wantBansKept(t *testing.T, before, after setState, elapsed int64) {
	t.Helper()
	for set, elems := range before {
		for addr, left := range elems {
			now, ok := after[set][addr]
			switch {
			case !ok:
				t.Errorf("set %s lost %s", set, addr)
			case left >= 0 && (now > left+1 || now < left-elapsed-1):
				t.Errorf("set %s: %s had %d s left, %d s later it has %d s", set, addr, left, elapsed, now)
			}
		}
	}
}

// TestUpgradeKeepsTheBansTheEditedTrapPortsAndTheTrap installs version N
// and switches it on, makes bans, adds a trap port to the configuration
// file and reloads, then installs N+1 while new addresses touch the trap
// one after the other: every ban and the edit are still there, in the file
// and in the kernel, and iblock banned every touch.
func TestUpgradeKeepsTheBansTheEditedTrapPortsAndTheTrap(t *testing.T) {
	c, n, root := bootInstalled(t)
	next := testkit.BuildDeb(t, upgradeVersion)
	plantBans(c, bootedSetups[0])
	for _, f := range testkit.Families {
		n.TouchTrap(f.Scanner, f.Server)
	}
	conf := filepath.Join(root, "etc/iblock/iblock.nft")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "define trap_ports = { ", "define trap_ports = { "+editedTrap+", ", 1)
	if edited == string(data) {
		t.Fatal("iblock.nft has no trap_ports to edit")
	}
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	c.MustRun("systemctl", "reload", "nftables.service")
	n.TouchPort(testkit.BurstAddress(90), testkit.Server4, editedTrap)
	c.waitJournal("iblock", "blocking "+testkit.BurstAddress(90))
	before := saveable(n.nftSets())

	stop := n.probeTrap(100)
	start := time.Now()
	out := c.AptInstall(next)
	took := time.Since(start)
	// A second of touches after the upgrade, with the new program.
	time.Sleep(time.Second)
	probes := stop()

	if v := c.MustRun("dpkg-query", "-W", "-f=${Version}", "iblock"); v != upgradeVersion {
		t.Fatalf("after the upgrade iblock is %q, want %s:\n%s", v, upgradeVersion, out)
	}
	if now, _ := os.ReadFile(conf); string(now) != edited {
		t.Errorf("the upgrade changed the edited /etc/iblock/iblock.nft:\n%s", now)
	}
	if rules := c.MustRun("nft", "list", "table", "inet", "iblock"); !strings.Contains(rules, editedTrap) {
		t.Errorf("after the upgrade the kernel's ruleset lacks the trap port %s", editedTrap)
	}
	after := saveable(n.nftSets())
	wantBansKept(t, before, after, int64(time.Since(start).Seconds())+1)
	logged := map[string]bool{}
	for _, m := range c.JournalMessages("-t", "iblock") {
		if addr, ok := strings.CutPrefix(m, "blocking "); ok {
			logged[addr] = true
		}
	}
	banned := func(p probe) bool {
		_, inSet := after["iblocked"][p.from]
		return p.err == nil && logged[p.from] && inSet
	}
	missed := 0
	for _, p := range probes {
		if !banned(p) {
			missed++
			t.Errorf("a touch from %s at %v into the upgrade was not banned by iblock: %v",
				p.from, p.at.Sub(start).Round(time.Millisecond), p.err)
		}
	}
	if len(probes) < 10 {
		t.Errorf("only %d touches during an upgrade of %v", len(probes), took)
	}
	testkit.Report(t, "upgrade %s to %s: apt-get took %v; %d touches of the trap, one after the other, %d not banned by iblock, longest gap %v; %d elements kept with their time",
		installVersion, upgradeVersion, took.Round(10*time.Millisecond), len(probes), missed,
		longestGap(probes, banned).Round(time.Millisecond), before.Count())
	n.TouchPort(testkit.BurstAddress(91), testkit.Server4, editedTrap)
	c.waitJournal("iblock", "blocking "+testkit.BurstAddress(91))
}

// otherTables returns the running ruleset's tables but iblock's, each
// listed in full.
func otherTables(c *container) map[string]string {
	tables := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(c.MustRun("nft", "list", "tables")), "\n") {
		f := strings.Fields(line) // "table inet filter"
		if len(f) != 3 || (f[1] == "inet" && f[2] == "iblock") {
			continue
		}
		tables[f[1]+" "+f[2]] = c.MustRun("nft", "list", "table", f[1], f[2])
	}
	return tables
}

// refused reports whether a connection from an address to a port of the
// server is refused: nothing listens there and nothing drops it.
func (n *testNet) refused(from, port string) bool {
	c, err := n.Dial(from, testkit.Server4, port, testkit.DropWait)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestRemoveTakesOutTheTrapAloneAndPurgeTheSavedBans removes the package
// from a system whose trap banned a scanner and whose firewall holds a
// table of the administrator's: the trap ports are no longer redirected,
// the scanner is no longer dropped, the other tables are as they were,
// and a reload of nftables.service loads without the trap. The bans were
// saved. A purge then removes them, the configuration, and every file of
// the user iblock.
func TestRemoveTakesOutTheTrapAloneAndPurgeTheSavedBans(t *testing.T) {
	c, n, root := bootInstalled(t)
	c.Shell("nft add table ip admin && nft add chain ip admin input '{ type filter hook input priority 0; }' && nft add rule ip admin input tcp dport 9999 counter")
	for _, f := range testkit.Families {
		n.WantScannerBannedAlone(f, n.NftSet, "the package")
	}
	if !n.refused(testkit.Bystander4, "24") {
		t.Fatal("port 24 of the server is not closed")
	}
	others := otherTables(c)
	c.Shell("apt-get remove -y iblock")

	if out, _ := c.Run("nft", "list", "table", "inet", "iblock"); !strings.Contains(out, "No such file") {
		t.Errorf("after apt-get remove the table inet iblock is still there:\n%s", out)
	}
	if now := otherTables(c); !maps.Equal(now, others) {
		t.Errorf("apt-get remove changed the firewall's other tables:\nbefore %q\nafter %q", others, now)
	}
	n.WantReach(testkit.Server4, map[string]bool{testkit.Scanner4: true, testkit.Bystander4: true})
	n.WantReach(testkit.Server6, map[string]bool{testkit.Scanner6: true, testkit.Bystander6: true})
	for _, port := range []string{testkit.TrapPort, testkit.IblockPort} {
		if !n.refused(testkit.BurstAddress(92), port) {
			t.Errorf("after apt-get remove, port %s is not closed: redirected, served or dropped", port)
		}
	}
	if state, _ := c.Run("systemctl", "is-enabled", "iblock.socket"); strings.TrimSpace(state) == "enabled" {
		t.Error("iblock.socket is still enabled after apt-get remove")
	}
	saved, err := os.ReadFile(filepath.Join(root, "var/lib/iblock/sets.nft"))
	if err != nil || !strings.Contains(string(saved), "iblocked "+testkit.Scanner4+" ") {
		t.Errorf("apt-get remove saved no bans: %v\n%s", err, saved)
	}
	c.MustRun("systemctl", "reload", "nftables.service")
	if out, _ := c.Run("nft", "list", "tables"); strings.Contains(out, "iblock") {
		t.Errorf("a reload of nftables.service after apt-get remove loaded the trap:\n%s", out)
	}

	c.Shell("apt-get purge -y iblock")
	for _, gone := range []string{"var/lib/iblock", "etc/iblock"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("apt-get purge left /%s", gone)
		}
	}
	if owned, _ := c.Run("find", "/", "-xdev", "-user", "iblock"); strings.TrimSpace(owned) != "" {
		t.Errorf("after apt-get purge the user iblock owns:\n%s", owned)
	}
	c.MustRun("systemctl", "restart", "nftables.service")
	if now := otherTables(c); now["inet filter"] != others["inet filter"] {
		t.Errorf("after the purge nftables.service loads\n%s\nnot\n%s", now["inet filter"], others["inet filter"])
	}
	testkit.Report(t, "after apt-get remove: no table inet iblock, %d other tables unchanged, trap port and 2507 closed, scanners served; after purge no /etc/iblock, no /var/lib/iblock",
		len(others))
}
