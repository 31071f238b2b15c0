package main

import (
	"net/netip"
	"strings"
	"testing"
)

func TestBanCommandsPerBackend(t *testing.T) {
	for _, tc := range []struct {
		args []string
		peer string
		want string
	}{
		{nil, "192.0.2.1", "/usr/bin/doas -n /sbin/pfctl -t iblocked -T add 192.0.2.1|/usr/bin/doas -n /sbin/pfctl -k 192.0.2.1"},
		{[]string{"-K"}, "192.0.2.1", "/usr/bin/doas -n /sbin/pfctl -t iblocked -T add 192.0.2.1"},
		{[]string{"-d", "none", "-4", "24"}, "192.0.2.77", "/sbin/pfctl -t iblocked -T add 192.0.2.0/24|/sbin/pfctl -k 192.0.2.0/24"},
		{[]string{"-d", "none", "-b", "npf", "t"}, "2001:db8::1", "/sbin/npfctl table t add 2001:db8::1"},
		{[]string{"-d", "none", "-b", "nft"}, "192.0.2.1", "/usr/sbin/nft add element inet iblock iblocked { 192.0.2.1 }"},
		{[]string{"-d", "none", "-b", "nft", "-4", "24"}, "192.0.2.77", "/usr/sbin/nft add element inet iblock iblocked { 192.0.2.0 }"},
		{[]string{"-d", "none", "-b", "nft", "-6", "64"}, "2001:db8:0:1:2:3:4:5", "/usr/sbin/nft add element inet iblock iblocked6 { 2001:db8:0:1:: }"},
		{[]string{"-d", "none", "-b", "ipset", "-6", "48"}, "2001:db8:5:6::1", "/usr/sbin/ipset add iblocked6 2001:db8:5::/48 -exist"},
		{[]string{"-b", "ipset"}, "198.51.100.3", "/usr/bin/doas -n /usr/sbin/ipset add iblocked 198.51.100.3 -exist"},
	} {
		conf, err := parseArgs(tc.args, "openbsd")
		if err != nil {
			t.Fatal(err)
		}
		peer := netip.MustParseAddr(tc.peer)
		var got []string
		target, _ := banTarget(conf, nil, peer)
		for _, argv := range banCommands(conf, target, peer.Is6()) {
			got = append(got, strings.Join(argv, " "))
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("%q %s:\n got %s\nwant %s", tc.args, tc.peer, strings.Join(got, "|"), tc.want)
		}
	}
}

func TestNpfExistingEntryIsTheOnlyAcceptedFailure(t *testing.T) {
	exists := &result{output: []byte("npfctl: entry already exists or is conflicting\n")}
	exists.status = 1 << 8 // exited with status 1
	if !alreadyBanned("npf", exists) {
		t.Error("npf existing entry not accepted")
	}
	if alreadyBanned("pf", exists) {
		t.Error("pf accepted npf's answer")
	}
	other := &result{output: []byte("npfctl: table not found\n"), status: 1 << 8}
	if alreadyBanned("npf", other) {
		t.Error("other npf failure accepted")
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
