package main

import (
	"strings"
	"testing"
)

// nft reads a keyword where a set name belongs as the keyword, and every
// add to that set then fails with a syntax error. One word of each kind of
// keyword, for the set (IPv4) and, through the "6", for the IPv6 set.
func TestNftKeywordTableNamesAreUsageErrors(t *testing.T) {
	for _, tc := range []struct{ class, table, keyword string }{
		{"command", "add", "add"},
		{"object", "table", "table"},
		{"object", "element", "element"},
		{"object", "set", "set"},
		{"family", "inet", "inet"},
		{"family", "ip", "ip"},
		{"statement", "counter", "counter"},
		{"statement", "drop", "drop"},
		{"set property", "timeout", "timeout"},
		{"set property", "interval", "interval"},
		{"expression", "tcp", "tcp"},
		{"expression", "meta", "meta"},
		{"with a hyphen", "gc-interval", "gc-interval"},
		{"in the IPv6 set's name", "icmpv", "icmpv6"},
	} {
		_, err := parseArgs([]string{"-b", "nft", tc.table}, "linux")
		want := "bad table name " + `"` + tc.table + `"` + ": nft reads " + `"` + tc.keyword + `"` + " as a keyword"
		if tc.keyword != tc.table {
			want = "bad table name " + `"` + tc.table + `"` + ": nft reads the IPv6 set's name " + `"` + tc.keyword + `"` + " as a keyword"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %q: error %v, want %q", tc.class, tc.table, err, want)
		}
	}
}

// The keywords are nft's alone: the other backends take them, and nft
// takes words that only contain one.
func TestNftKeywordsAreRefusedForNftOnly(t *testing.T) {
	for _, args := range [][]string{
		{"-b", "pf", "counter"}, {"-b", "npf", "table"}, {"-b", "ipset", "inet"},
		{"-b", "nft", "counters"}, {"-b", "nft", "my-counter"}, {"-b", "nft", "iblocked"},
		{"-b", "nft", "icmpv6x"}, {"-b", "nft", "Counter"},
	} {
		if _, err := parseArgs(args, "linux"); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestNftKeywordTableIsRefusedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	c := connCase{backend: "nft", flags: []string{"--", "counter"}, exit: exitFailure,
		err: `bad table name "counter": nft reads "counter" as a keyword`}.check(t)
	c.WantLog(t, priErr, usage)
}
