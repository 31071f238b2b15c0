package fleet

// A fleet through CrowdSec, for real: host A, a booted Debian system (see
// fleethost_linux_test.go), runs the kernel-side ruleset, iblock behind
// iblock.socket and openbsd-inetd, journald, and CrowdSec's agent, which
// reads the journal with the examples' acquisition, parser and scenarios
// and reports over TLS to the local API on a host of its own; hosts B and
// C run only CrowdSec's firewall bouncer, B with nftables, C with
// iptables and ipset. A scanner that touches A's trap must be dropped by
// B and C.

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// rangePort is an iblock service of inetd on A, with -4 24 -6 64:
// scanners connect to it directly, and iblock logs the network it bans.
const rangePort = "2508"

// fleetBound is how long the test waits for B and C to drop a scanner:
// twice the goal of 5 s. The times measured are reported.
const fleetBound = 10 * time.Second

type fleet struct {
	*fleetNet
	lapi         *localAPI
	host         *testkit.Container // A's system
	iblockUID    string             // the user iblock's number on A
	ulogUID      string             // the user ulog's (ulogd2's) number on A
	hostA, hostB *testNet
	hostC        *testNet
	kmsg         *testkit.Kmsg
	sentinel     int // the last of 203.0.113.(100+N) logged to see that the agent has read
}

// startFleet builds the fleet and returns once A's agent turns a line of
// A's journal into a ban. It takes a minute or more: go test -short
// skips the test.
func startFleet(t *testing.T) *fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: a minute or more")
	}
	// Every tool first: reading the kernel log changes the host.
	testkit.NeedNetAdmin(t)
	for _, tool := range []string{"ip", "nft", "ipset", "crowdsec", "cscli", "crowdsec-firewall-bouncer", "openssl",
		"systemd-nspawn", "mmdebstrap"} {
		testkit.NeedTool(t, tool)
	}
	kmsg := testkit.FollowKmsg(t)
	fn := newFleetNet(t)
	dir := t.TempDir()
	f := &fleet{fleetNet: fn, hostA: fn.host(fn.a), hostB: fn.host(fn.b), hostC: fn.host(fn.c), kmsg: kmsg}
	f.lapi = newLocalAPI(t, fn.lapi, filepath.Join(dir, "lapi"))
	f.lapi.Start()
	f.bootTrapHost()
	startBouncer(t, f.lapi, fn.b, filepath.Join(dir, "b"), "nftables")
	startBouncer(t, f.lapi, fn.c, filepath.Join(dir, "c"), "iptables")
	for _, h := range []*testNet{f.hostA, f.hostB, f.hostC} {
		h.Serve()
	}
	f.waitAgentReads()
	if v4, v6 := f.hostA.Listeners(lapiPort); v4 || v6 {
		t.Errorf("the agent on A runs a local API of its own")
	}
	return f
}

// sentinelAddr returns the address of the last sentinel line.
func (f *fleet) sentinelAddr() string { return "203.0.113." + strconv.Itoa(100+f.sentinel) }

// waitAgentReads logs bans of addresses nobody uses, as root, one at a
// time, until the local API holds one: the agent reads the journal only
// from the moment it has started.
func (f *fleet) waitAgentReads() {
	f.t.Helper()
	for i := 0; i < 30 && f.agentRunning(); i++ {
		f.sentinel++
		addr := f.sentinelAddr()
		f.trusted("blocking " + addr)
		if testkit.Eventually(2*time.Second, func() bool { _, ok := f.lapi.decisionFor(addr); return ok }) {
			return
		}
	}
	status, _ := f.host.Run("journalctl", "--no-pager", "-n", "40", "-u", "crowdsec.service")
	f.t.Fatalf("the agent turned no line of A's journal into a ban:\n%s", status)
}

// bouncerHas reports whether the bouncer on B (nftables) or C (ipset)
// drops addr.
func (f *fleet) bouncerHas(host *testNet, addr string) bool {
	ip := netip.MustParseAddr(addr)
	if host == f.hostC {
		set := "crowdsec-blacklists"
		if ip.Is6() {
			set = "crowdsec6-blacklists"
		}
		_, err := host.Run("ipset", "test", set, addr)
		return err == nil
	}
	args := []string{"nft", "list", "set", "ip", "crowdsec", "crowdsec-blacklists"}
	if ip.Is6() {
		args = []string{"nft", "list", "set", "ip6", "crowdsec6", "crowdsec6-blacklists"}
	}
	out, _ := host.Run(args...)
	found := false
	testkit.ReadSetListing(out, func(_, e string) { found = found || sameAddr(strings.Fields(e)[0], addr) })
	return found
}

// sameAddr compares addresses or networks whatever their spelling
// (2001:0db8:0000:… and 2001:db8::… are one).
func sameAddr(a, b string) bool {
	pa, errA := netip.ParsePrefix(withBits(a))
	pb, errB := netip.ParsePrefix(withBits(b))
	return errA == nil && errB == nil && pa == pb
}

func withBits(s string) string {
	if strings.Contains(s, "/") {
		return s
	}
	if isIPv4(s) {
		return s + "/32"
	}
	return s + "/128"
}

// decision returns the local API's decision for an address or a network.
func (f *fleet) decision(v string) (decision, bool) {
	ds := f.decisions(v)
	if len(ds) == 0 {
		return decision{}, false
	}
	return ds[0], true
}

// decisions returns the local API's decisions for an address or a network.
func (f *fleet) decisions(v string) []decision {
	var found []decision
	for _, d := range f.lapi.decisions() {
		if sameAddr(d.value, v) {
			found = append(found, d)
		}
	}
	return found
}

// timeFleetBan runs touch, then returns how long B and C took, from the
// start of the touch, to drop addr; it fails the test after fleetBound.
func (f *fleet) timeFleetBan(addr string, touch func()) (b, c time.Duration) {
	f.t.Helper()
	start := time.Now()
	touch()
	var wg sync.WaitGroup
	took := map[*testNet]time.Duration{}
	var mu sync.Mutex
	for _, h := range []*testNet{f.hostB, f.hostC} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if testkit.Eventually(fleetBound, func() bool { return f.bouncerHas(h, addr) }) {
				mu.Lock()
				took[h] = time.Since(start)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if took[f.hostB] == 0 || took[f.hostC] == 0 {
		c6, _ := f.hostC.Run("ipset", "list")
		b6, _ := f.hostB.Run("nft", "list", "ruleset")
		f.t.Fatalf("after %v, B drops %s: %v, C: %v; decisions: %+v\nB: %s\nC: %s", fleetBound, addr,
			took[f.hostB] != 0, took[f.hostC] != 0, f.lapi.decisions(), b6, c6)
	}
	return took[f.hostB], took[f.hostC]
}

// wantDecision fails the test unless the local API bans v for about want.
func (f *fleet) wantDecision(v, scope string, want time.Duration) {
	f.t.Helper()
	var d decision
	var ok bool
	testkit.WaitUntil(f.t, fleetBound, "the local API has no decision for "+v, func() bool {
		d, ok = f.decision(v)
		return ok
	})
	left, err := time.ParseDuration(d.expiration)
	if err != nil || left > want || left < want-time.Hour || d.scope != scope {
		f.t.Errorf("decision for %s: %+v, want scope %s and %v", v, d, scope, want)
	}
}

// resetAtOnce completes a handshake with the trap and resets the
// connection at once, as nmap -sT does: inetd never hands it to iblock.
func (f *fleet) resetAtOnce(from, to string) {
	f.t.Helper()
	c, err := f.hostA.Dial(from, to, testkit.TrapPort, 5*time.Second)
	if err != nil {
		f.t.Fatalf("%s cannot reach the trap: %v", from, err)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// fleetAddrs returns the addresses of A, B and C in a family.
func fleetAddrs(family string) []string {
	if family == "IPv6" {
		return []string{hostA6, hostB6, hostC6}
	}
	return []string{hostA4, hostB4, hostC4}
}

type durations []time.Duration

func (d durations) summary() string {
	s := slices.Clone(d)
	slices.Sort(s)
	r := func(x time.Duration) string { return x.Round(10 * time.Millisecond).String() }
	return "min " + r(s[0]) + ", median " + r(s[len(s)/2]) + ", max " + r(s[len(s)-1]) + " over " + strconv.Itoa(len(s)) + " bans"
}

// TestFleetDropsOnEveryHostWhatTouchedOneTrap is the fleet's whole story,
// in the order an administrator meets it.
func TestFleetDropsOnEveryHostWhatTouchedOneTrap(t *testing.T) {
	f := startFleet(t)
	var toB, toC durations
	for _, fam := range testkit.Families {
		a := f.hostA
		b, c := f.timeFleetBan(fam.Scanner, func() { a.TouchTrap(fam.Scanner, fam.Server) })
		toB, toC = append(toB, b), append(toC, c)
		testkit.Report(t, "from %s's touch of A's trap to its drop: on B (nftables) %v, on C (ipset) %v",
			fam.Scanner, b.Round(time.Millisecond), c.Round(time.Millisecond))
		if !a.NftHas(fam.Set, fam.Scanner) {
			t.Errorf("A did not ban %s itself", fam.Scanner)
		}
		f.wantDecision(fam.Scanner, "Ip", 240*time.Hour)
		// The ruleset's line (through ulogd2) and iblock's: one decision.
		if ds := f.decisions(fam.Scanner); len(ds) != 1 || len(f.iblockLines("blocking "+fam.Scanner)) != 1 {
			t.Errorf("%d decisions for %s, want 1 for the two lines", len(ds), fam.Scanner)
		}
		for _, to := range fleetAddrs(fam.Name) {
			f.hostA.WantReach(to, map[string]bool{fam.Scanner: false, fam.Bystander: true})
		}
		for _, scanner := range fleetScanners[fam.Name] {
			b, c := f.timeFleetBan(scanner, func() { a.TouchTrap(scanner, fam.Server) })
			toB, toC = append(toB, b), append(toC, c)
		}
	}
	f.networkBannedByIpsetBouncerOnly()
	f.allowlistedAddressNeverReachesCrowdSec()
	f.forgeSYN()
	f.hostStillBansWhileLocalAPIIsDown()
	f.liftedBanIsLiftedEverywhereAndComesBackLonger()
	f.rulesetLineAloneBans(&toB, &toC)
	f.synStayedOnItsHost()
	testkit.Report(t, "from a touch of A's trap to the drop on B (nftables): %s", toB.summary())
	testkit.Report(t, "from a touch of A's trap to the drop on C (ipset): %s", toC.summary())
}
