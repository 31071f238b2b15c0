package netns

// A forged handshake: a SYN in a victim's name to a trap port, then ACKs
// that guess the server's sequence number blind. The kernel-side rulesets
// must give such a victim the short ban at most: only a handshake that
// the kernel's TCP stack itself completed bans for ten days.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"iblock/internal/testkit"
)

// forgery is one way to guess: the acknowledgement numbers sent after the
// SYN, from a random first guess r. A bare ACK sends no SYN at all.
type forgery struct {
	name  string
	noSYN bool
	acks  func(r uint32) []uint32
}

const sweepSize = 70000

var forgeries = []forgery{
	{"a single ACK", false, func(r uint32) []uint32 { return []uint32{r} }},
	{"a pair of ACKs half the sequence space apart", false, func(r uint32) []uint32 { return []uint32{r, r + 1<<31} }},
	{fmt.Sprintf("a sweep of %d consecutive ACKs", sweepSize), false, func(r uint32) []uint32 {
		acks := make([]uint32, sweepSize)
		for i := range acks {
			acks[i] = r + uint32(i)
		}
		return acks
	}},
	{"two ACKs with no SYN", true, func(r uint32) []uint32 { return []uint32{r, r} }},
}

// forge runs a forgery in victim's name against dst's trap port and
// reports how many of its segments the server received.
func (n *testNet) forge(t *testing.T, fg forgery, victim, dst string, sport uint16) {
	t.Helper()
	rx, drops := n.Received(t)
	acks := fg.acks(rand.Uint32())
	if fg.noSYN {
		s := testkit.Segment{Src: netip.MustParseAddr(victim), Dst: netip.MustParseAddr(dst), Sport: sport, Dport: 23,
			Seq: 0x5eed0001, Flags: testkit.FlagACK}
		segs := make([]testkit.Segment, len(acks))
		for i, a := range acks {
			segs[i], segs[i].Ack = s, a
		}
		n.SendSegments(t, segs)
	} else {
		n.ForgeHandshake(t, victim, dst, sport, acks)
	}
	rx2, drops2 := n.Received(t)
	testkit.Report(t, "%s in %s's name: the server received %d packets for %d ACKs sent, dropped %d",
		fg.name, victim, rx2-rx, len(acks), drops2-drops)
	if rx2-rx < uint64(len(acks)) {
		t.Errorf("the server received %d packets, fewer than the %d ACKs sent", rx2-rx, len(acks))
	}
}

// trapListener is what listens on iblock's port: inetd as the examples
// configure it, one socket per family, or one dual-stack socket as
// iblock.socket's ListenStream=2507 makes. Both are bound to the wildcard
// address.
type trapListener struct {
	name  string
	start func(k kernelSetup, n *testNet)
}

var trapListeners = []trapListener{
	{"inetd", func(k kernelSetup, n *testNet) { k.Start(n, "") }},
	{"dual-stack socket", kernelSetup.startWithListener},
	// SYN cookies, which Linux sends when a listener's queue overflows,
	// here for every SYN: no half-open handshake is kept, and forged ACKs
	// meet the listener itself.
	{"inetd, SYN cookies always", func(k kernelSetup, n *testNet) {
		n.MustRun("sysctl", "-q", "-w", "net.ipv4.tcp_syncookies=2")
		k.Start(n, "")
	}},
}

// TestForgedHandshakeBansTheVictimOnlyShortly forges, for each kernel-side
// setup, listener and family, handshakes in the names of addresses that
// never sent a packet: each victim ends with the hour's ban of its SYN at
// most, and no "iblock-ban: " line names it. Real handshakes, closed with
// a FIN or a reset, still ban for ten days and are logged.
func TestForgedHandshakeBansTheVictimOnlyShortly(t *testing.T) {
	testkit.Slow(t)
	for _, k := range kernelSetups {
		for _, l := range trapListeners {
			t.Run(k.name+", "+l.name, func(t *testing.T) {
				n := newTestNet(t)
				k.needTools(t)
				kmsg := testkit.FollowKmsg(t)
				n.RouteForgedVictims()
				l.start(k, n)
				addrs := &scannerAddrs{n: n}
				for i, v6 := range []bool{false, true} {
					t.Run(map[bool]string{false: "IPv4", true: "IPv6"}[v6], func(t *testing.T) {
						k.wantForgeriesShort(t, n, kmsg, addrs, v6, 10*i)
					})
				}
				testkit.Report(t, "SYN cookies sent: %d", n.SyncookiesSent())
			})
		}
	}
}

func (k kernelSetup) wantForgeriesShort(t *testing.T, n *testNet, kmsg *testkit.Kmsg, addrs *scannerAddrs, v6 bool, first int) {
	dst := serverOf(v6)
	var victims []string
	for i, fg := range forgeries {
		victim := testkit.ForgedVictim(first+i, v6)
		victims = append(victims, victim)
		n.forge(t, fg, victim, dst, uint16(41000+first+i))
	}
	// Real handshakes after the forgeries: once they are banned and
	// logged, the forged segments, sent before, have been through.
	for _, reset := range []bool{false, true} {
		from := addrs.fresh(v6)
		n.ConnectThenClose(t, from, dst, reset)
		line := kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(from))
		if got := k.banLength(n, from); got != "10d" {
			t.Errorf("a real handshake from %s closed with reset %v: banned %q, want 10d", from, reset, got)
		}
		testkit.Report(t, "a real handshake closed with reset %v: %s", reset, line)
	}
	for i, victim := range victims {
		// The SYN bans for an hour; bare ACKs may or may not.
		got := k.banLength(n, victim)
		lines := kmsg.Lines("iblock-ban: ", n.KmsgMAC(), testkit.KmsgSrc(victim))
		testkit.Report(t, "%s in %s's name: banned %q, %d iblock-ban lines", forgeries[i].name, victim, got, len(lines))
		if got == "10d" || (got == "" && !forgeries[i].noSYN) || len(lines) > 0 {
			t.Errorf("%s in %s's name: banned %q, want the short ban at most; kernel lines %q", forgeries[i].name, victim, got, lines)
		}
	}
}
