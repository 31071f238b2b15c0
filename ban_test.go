package main

import (
	"net/netip"
	"strings"
	"testing"
)

// banCase is one command line and peer, and the commands iblock runs for
// them on OpenBSD, joined with "|".
type banCase struct {
	args []string
	peer string
	want string
}

// checkBanCommands fails for each case whose commands are not the ones it
// wants.
func checkBanCommands(t *testing.T, cases []banCase) {
	t.Helper()
	for _, tc := range cases {
		conf, err := parseArgs(tc.args, "openbsd")
		if err != nil {
			t.Fatal(err)
		}
		peer := netip.MustParseAddr(tc.peer)
		var got []string
		target, _ := banTarget(conf, nil, peer)
		for _, argv := range conf.backend.banCommands(conf, target, peer.Is6()) {
			got = append(got, strings.Join(argv, " "))
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("%q %s:\n got %s\nwant %s", tc.args, tc.peer, strings.Join(got, "|"), tc.want)
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
