package main

import (
	"net/netip"
	"testing"

	"iblock/internal/testkit"
)

// checkContract fails for each case of the backend in
// testdata/contract.txt whose set or commands are not the ones iblock
// gives.
func checkContract(t *testing.T, backend string) {
	t.Helper()
	cases := testkit.ReadContract(t).Backend(backend)
	if len(cases) == 0 {
		t.Fatalf("testdata/contract.txt has no case of -b %s", backend)
	}
	for _, tc := range cases {
		conf, err := parseArgs(tc.Args, "linux")
		if err != nil {
			t.Fatalf("%q: %v", tc.Args, err)
		}
		peer := netip.MustParseAddr(tc.Peer)
		if set := conf.backend.set(conf.table, peer.Is6()); set != tc.Set {
			t.Errorf("%q %s: set %s, want %s", tc.Args, tc.Peer, set, tc.Set)
		}
		target, _ := banTarget(conf, nil, peer)
		if got := conf.backend.banCommands(conf, target, peer.Is6()); !testkit.EqualArgvs(got, tc.Run) {
			t.Errorf("%q %s:\n got %q\nwant %q", tc.Args, tc.Peer, got, tc.Run)
		}
	}
}

func TestPrefixBanNeverCoversAnAllowlistedAddress(t *testing.T) {
	allow, err := parseAllowlist("192.0.2.200\n2001:db8:0:1::/64\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		peer      string
		want, why string
	}{
		{[]string{"-4", "24"}, "192.0.2.7", "192.0.2.7", "192.0.2.0/24 would cover allowlisted 192.0.2.200"},
		{[]string{"-4", "25"}, "192.0.2.7", "192.0.2.0/25", ""},
		{[]string{"-6", "48"}, "2001:db8::5", "2001:db8::5", "2001:db8::/48 would cover allowlisted 2001:db8:0:1::/64"},
		{[]string{"-6", "64"}, "2001:db8::5", "2001:db8::/64", ""},
		{[]string{"-4", "16", "-6", "32"}, "198.51.100.1", "198.51.0.0/16", ""},
	} {
		conf, err := parseArgs(tc.args, "linux")
		if err != nil {
			t.Fatal(err)
		}
		target, why := banTarget(conf, allow, netip.MustParseAddr(tc.peer))
		if target != tc.want || why != tc.why {
			t.Errorf("%q %s: %q, %q; want %q, %q", tc.args, tc.peer, target, why, tc.want, tc.why)
		}
	}
}
