package main

import (
	"strings"
	"testing"
)

func TestOptionsParseLikeGetopt(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want config
	}{
		{nil, config{backend: pf, program: "/sbin/pfctl", helper: "/usr/bin/doas", bits4: 32, bits6: 128, table: "iblocked"}},
		{[]string{"-nK", "-bnft", "-d", "none", "-w/etc/allow", "-4", "24", "-664", "t"},
			config{backend: nft, program: "/usr/sbin/nft", allowFile: "/etc/allow", bits4: 24, bits6: 64, dryRun: true, keepStates: true, table: "t"}},
		{[]string{"-Kc/usr/local/sbin/pfctl", "--", "x"},
			config{backend: pf, program: "/usr/local/sbin/pfctl", helper: "/usr/bin/doas", bits4: 32, bits6: 128, keepStates: true, table: "x"}},
	} {
		got, err := parseArgs(tc.args, "openbsd")
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.args, *got, tc.want)
		}
	}
}

func TestEachSystemHasItsDefaults(t *testing.T) {
	for goos, want := range map[string]string{
		"openbsd": "pf /sbin/pfctl /usr/bin/doas",
		"freebsd": "pf /sbin/pfctl /usr/local/bin/doas",
		"netbsd":  "npf /sbin/npfctl ",
		"linux":   "nft /usr/sbin/nft ",
	} {
		c, err := parseArgs(nil, goos)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.backend.name + " " + c.program + " " + c.helper; got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
	c, _ := parseArgs([]string{"-b", "ipset"}, "linux")
	if c.program != "/usr/sbin/ipset" {
		t.Errorf("ipset program %q", c.program)
	}
}

func TestBadOptionsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "unknown option -x"},
		{[]string{"-b"}, "option -b needs a value"},
		{[]string{"-b", "iptables"}, `unknown backend "iptables"`},
		{[]string{"-c", "sbin/pfctl"}, "-c needs an absolute path"},
		{[]string{"-d", "doas"}, "-d needs an absolute path or none"},
		{[]string{"-4", "15"}, "-4 takes a prefix length from 16 to 32"},
		{[]string{"-6", "129"}, "-6 takes a prefix length from 32 to 128"},
		{[]string{"a", "b"}, `too many arguments: "b"`},
		{[]string{"-b", "ipset", strings.Repeat("s", 31)}, "bad table name"},
		{[]string{"-t"}, "unknown option -t"},
		{[]string{"-b", "nft", "6in4"}, "nft takes a set name that starts with a letter, '_' or '.'"},
	} {
		_, err := parseArgs(tc.args, "linux")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
