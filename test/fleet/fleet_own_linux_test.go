package fleet

// What an unprivileged account on a host of the fleet can make the fleet
// ban: nothing. Not with lines that a network namespace of its own writes
// into the kernel's log, nor with connections from the fleet's addresses,
// nor with lines in ulogd2's name, once /etc/iblock/allow names the fleet.
// And an address is one address, whatever its spelling.

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// namespaceForged is the source that the forger's own namespace writes
// into its line: nobody ever touches a trap from it.
const namespaceForged = "203.0.113.71"

// Scanners of the IPv6 repeat: one banned twice, and one whose address
// root writes in full.
const (
	repeatScanner6 = "2001:db8::19"
	longForm6      = "2001:0db8:0000:0000:0000:0000:0000:0020"
	shortForm6     = "2001:db8::20"
)

func TestFleetTakesNoBanFromAnUnprivilegedAccount(t *testing.T) {
	f := startFleet(t)
	f.lineOfAnotherNamespaceBansNothing()
	f.noAccountBansAHostOfTheFleet()
}

func TestFleetCountsAnIPv6AddressAsOneWhateverItsSpelling(t *testing.T) {
	f := startFleet(t)
	f.ipv6RepeatOffenderIsBannedLonger()
	f.longFormIsWrittenShort()
}

// lineOfAnotherNamespaceBansNothing: nobody on A makes a network namespace
// of its own (unshare -Urn), loads a ruleset there that logs
// "iblock-ban: " for port 2507, and sends itself one packet. With
// nf_log_all_netns on, as container hosts set it, the kernel writes the
// line into the machine's log, with facility 0, and A's journal has it as
// the kernel's. The fleet must not believe it.
//
// The prefix also holds A's MAC address, which the forger may write
// there as well: it tells this test's line from those of other tests
// (the machine's log is shared), and an agent that read the kernel's log
// narrowed to A's lines, as this test's did, took it. On a real host,
// "iblock-ban: " alone would do.
func (f *fleet) lineOfAnotherNamespaceBansNothing() {
	t := f.t
	sysctl, err := os.ReadFile("/proc/sys/net/netfilter/nf_log_all_netns")
	if err != nil || strings.TrimSpace(string(sysctl)) != "1" {
		t.Fatalf("nf_log_all_netns is %q (%v), want 1", sysctl, err)
	}
	script := `set -e
ip link set lo up
ip addr add ` + namespaceForged + `/32 dev lo
printf 'table inet forge {\n chain out {\n  type filter hook output priority 0;\n  tcp dport 2507 log prefix "iblock-ban: IN=MAC=` + f.macA + `:"\n }\n}\n' | nft -f -
(echo >/dev/tcp/` + namespaceForged + `/2507) 2>/dev/null || true
`
	f.host.MustRun("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "unshare", "-Urn", "bash", "-c", script)
	var line string
	testkit.WaitUntil(t, fleetBound, "the forged namespace's line is not in A's journal", func() bool {
		for _, e := range f.host.Journal("-k", "SYSLOG_FACILITY=0") {
			// This test's line: the journal also holds what the machine's
			// log held when A booted.
			if strings.Contains(e["MESSAGE"], "SRC="+namespaceForged+" ") && strings.HasPrefix(e["MESSAGE"], "iblock-ban: IN=MAC="+f.macA+":") {
				line = e["MESSAGE"]
				return true
			}
		}
		return false
	})
	// A real ban through the ruleset and iblock after the forged line:
	// once B and C drop it, the agent has read past it.
	f.timeFleetBan(lapiDownScanner4, func() { f.hostA.TouchTrap(lapiDownScanner4, hostA4) })
	f.waitLinesReadWithin(3 * fleetBound)
	if d, ok := f.decision(namespaceForged); ok {
		t.Errorf("a line from nobody's own network namespace banned %s: %+v", namespaceForged, d)
	}
	if f.bouncerHas(f.hostB, namespaceForged) || f.bouncerHas(f.hostC, namespaceForged) {
		t.Errorf("a line from nobody's own network namespace made B or C drop %s", namespaceForged)
	}
	testkit.Report(t, "nf_log_all_netns=1; nobody's namespace wrote %q into A's journal (_TRANSPORT=kernel, SYSLOG_FACILITY=0); decisions for %s: %d",
		line, namespaceForged, len(f.decisions(namespaceForged)))
}

// ipv6RepeatOffenderIsBannedLonger: an IPv6 scanner completes a handshake
// with A's trap and resets at once, so that the ruleset alone logs it
// (inetd and systemd drop a connection that is gone before iblock
// starts). Its ban is lifted everywhere, on A too; it comes back and
// touches the trap, where iblock logs it as well: the local API must
// count the first ban, and make the second twenty days. Both decisions
// name the address as iblock writes it.
func (f *fleet) ipv6RepeatOffenderIsBannedLonger() {
	t := f.t
	f.resetAtOnce(repeatScanner6, hostA6)
	f.wantDecision(repeatScanner6, "Ip", 240*time.Hour)
	first, _ := f.decision(repeatScanner6)
	if first.value != repeatScanner6 {
		t.Errorf("the ruleset's ban of %s names %q", repeatScanner6, first.value)
	}
	f.lapi.cscli("decisions", "delete", "--ip", repeatScanner6)
	testkit.WaitUntil(t, fleetBound, "the deleted decision stays", func() bool { _, ok := f.decision(repeatScanner6); return !ok })
	f.hostA.MustRun("nft", "delete", "element", "inet", "iblock", "iblocked6", "{ "+repeatScanner6+" }")
	f.restartAgent()
	f.hostA.TouchTrap(repeatScanner6, hostA6)
	f.wantDecision(repeatScanner6, "Ip", 480*time.Hour)
	second, _ := f.decision(repeatScanner6)
	testkit.Report(t, "an IPv6 repeat offender: first ban %q for %s (from the ruleset's line), second %q for %s",
		first.value, first.expiration, second.value, second.expiration)
}

// longFormIsWrittenShort: root's line names an IPv6 address in full; the
// local API's decision names it in its one short form, which iblock and
// cscli use.
func (f *fleet) longFormIsWrittenShort() {
	t := f.t
	f.trusted("blocking " + longForm6)
	f.wantDecision(shortForm6, "Ip", 240*time.Hour)
	if d, _ := f.decision(shortForm6); d.value != shortForm6 {
		t.Errorf("the decision for %s names %q, want %q", longForm6, d.value, shortForm6)
	}
}

// Sources that nobody's forged lines in ulogd2's name give.
const ulogdForged1, ulogdForged2 = "203.0.113.72", "203.0.113.73"

// noAccountBansAHostOfTheFleet: with /etc/iblock/allow naming the fleet,
// as the README says, an unprivileged account tries every way it has to
// get a host of the fleet banned: on A, as nobody, it connects from A's
// own addresses to iblock's port (a connection from the machine itself is
// never redirected), from port 3306, a trap port, so that the server's
// SYN-ACK gets back to it even if the SYN short-banned A; from B and from the local API's host
// it connects to A's trap (a connect needs no privilege); on A it writes
// lines in ulogd2's name. Then root writes a ban of every host and
// network of the fleet, as a line that root may write. No decision
// overlaps the allowlist, and B and C drop none of the fleet.
func (f *fleet) noAccountBansAHostOfTheFleet() {
	t := f.t
	nobody := []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"}
	for _, own := range []string{hostA4, hostA6} {
		if out, err := f.host.Run(append(nobody, "nc", "-z", "-w", "3", "-s", own, "-p", "3306", own, testkit.IblockPort)...); err != nil {
			t.Errorf("nobody on A, from %s port 3306 to iblock's port: %v %s", own, err, out)
		}
	}
	for _, c := range []struct{ ns, from, to string }{{f.b, hostB4, hostA4}, {f.b, hostB6, hostA6}, {f.fleetNet.lapi, lapi4, hostA4}, {f.fleetNet.lapi, lapi6, hostA6}} {
		conn, err := testkit.DialFrom(c.ns, c.from, c.to, testkit.TrapPort, 5*time.Second)
		if err != nil {
			t.Errorf("%s cannot reach A's trap: %v", c.from, err)
			continue
		}
		conn.Close()
	}
	ulogdLine := func(src string) string {
		return "iblock-ban:  IN=veth0 OUT= MAC=" + f.macA + ":" + f.macScn + ":08:00 SRC=" + src + " DST=" + hostA4 +
			" LEN=52 TOS=00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=2507 SEQ=1 ACK=1 WINDOW=502 ACK URGP=0 MARK=0 "
	}
	f.host.MustRun(append(nobody, "logger", "-t", "ulogd", "--id=99", "-p", "daemon.notice", ulogdLine(ulogdForged1))...)
	f.host.MustRun(append(nobody, forgeHelper, "/dev/log", "<29>ulogd[99]: "+ulogdLine(ulogdForged2))...)
	fleet := append([]string{hostA4, hostA6, hostB4, hostB6, hostC4, hostC6, lapi4, lapi6, "192.0.2.0/24", "2001:db8::/64"}, fleetNetworks...)
	for _, v := range fleet {
		f.trusted("blocking " + v)
	}
	// A real ban through ulogd2 and iblock after all of these: once B and
	// C drop it, the agent has read past them.
	scanner := fleetScanners["IPv4"][0]
	f.timeFleetBan(scanner, func() { f.hostA.TouchTrap(scanner, hostA4) })
	f.waitLinesReadWithin(3 * fleetBound)
	allowed := f.allowedPrefixes()
	for _, d := range f.lapi.decisions() {
		p, err := netip.ParsePrefix(withBits(d.value))
		if err != nil {
			t.Errorf("a decision for %q, no address", d.value)
			continue
		}
		for _, a := range allowed {
			if p.Overlaps(a) {
				t.Errorf("a decision for %s, which overlaps %s of A's allowlist: %+v", d.value, a, d)
			}
		}
	}
	for _, v := range []string{ulogdForged1, ulogdForged2} {
		if d, ok := f.decision(v); ok {
			t.Errorf("nobody's line in ulogd2's name banned %s: %+v", v, d)
		}
	}
	for _, a := range []string{hostA4, hostA6, hostB4, hostB6, hostC4, hostC6, lapi4, lapi6} {
		if f.bouncerHas(f.hostB, a) || f.bouncerHas(f.hostC, a) {
			t.Errorf("B or C drops %s, a host of the fleet", a)
		}
	}
	testkit.Report(t, "an unprivileged account's connects from A, B and the local API's host, 2 lines in ulogd2's name, root's %d lines for the fleet: %d decisions overlap A's allowlist; iblock's lines on A that say A's own %s and %s are allowlisted: %d; A's own set holds A's %s: %v",
		len(fleet), f.overlapping(allowed), hostA4, hostA6,
		len(f.iblockLines("not blocking "+hostA4+": allowlisted"))+len(f.iblockLines("not blocking "+hostA6+": allowlisted")),
		hostA4, f.hostA.NftHas("iblocked", hostA4))
}

// allowedPrefixes reads A's /etc/iblock/allow as iblock does.
func (f *fleet) allowedPrefixes() []netip.Prefix {
	var list []netip.Prefix
	for _, line := range strings.Split(f.host.MustRun("cat", "/etc/iblock/allow"), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			p, err := netip.ParsePrefix(withBits(line))
			if err != nil {
				f.t.Fatalf("A's allowlist: %q: %v", line, err)
			}
			list = append(list, p)
		}
	}
	return list
}

// overlapping counts the local API's decisions that overlap one of list.
func (f *fleet) overlapping(list []netip.Prefix) int {
	k := 0
	for _, d := range f.lapi.decisions() {
		p, err := netip.ParsePrefix(withBits(d.value))
		for _, a := range list {
			if err == nil && p.Overlaps(a) {
				k++
				break
			}
		}
	}
	return k
}

// waitLinesReadWithin is waitLinesRead with a bound of its own: after a
// burst of lines, on a busy machine, the agent may take longer.
func (f *fleet) waitLinesReadWithin(bound time.Duration) {
	f.t.Helper()
	f.sentinel++
	addr := f.sentinelAddr()
	f.trusted("blocking " + addr)
	testkit.WaitUntil(f.t, bound, "the local API has no decision for "+addr, func() bool { _, ok := f.decision(addr); return ok })
}
