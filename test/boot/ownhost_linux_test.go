package boot

// iblock@.service reads the host's addresses under its own hardening
// (RestrictAddressFamilies=AF_UNIX AF_NETLINK): a local account that
// connects from one of them to the trap gets nothing banned.

import (
	"net/netip"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// TestSystemdUnitsNeverBanTheHostsOwnAddress connects, as the user
// nobody of the booted system's network namespace, from each of the
// host's addresses and from a trap port (3306) to iblock.socket: the
// service logs that the peer is an address of this host, and nothing is
// banned.
func TestSystemdUnitsNeverBanTheHostsOwnAddress(t *testing.T) {
	c, n, _ := bootInstalled(t)
	n.WaitListening(testkit.IblockPort)
	for _, f := range testkit.Families {
		conn, err := testkit.DialAs(n.Server, 65534, f.Server, 3306, f.Server, testkit.IblockPort, 5*time.Second)
		if err != nil {
			t.Fatalf("from %s port 3306 to its own port %s: %v", f.Server, testkit.IblockPort, err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		testkit.ReadAll(conn)
		conn.Close()
		e := c.waitJournal("iblock", "not blocking "+f.Server+": an address of this host")
		// The kernel's word for who wrote it (journald may find the
		// unit of so short a process gone).
		wantIblockUser(t, c, e["_UID"])
		// The IPv6 short bans hold /64s.
		short := netip.PrefixFrom(netip.MustParseAddr(f.Server), 64).Masked().Addr().String()
		if f.Name == "IPv4" {
			short = f.Server
		}
		if n.NftHas(f.Set, f.Server) || n.NftHas(testkit.SetName("syn_banned", f.Name == "IPv6"), short) {
			t.Errorf("the host's own %s is banned", f.Server)
		}
	}
}
