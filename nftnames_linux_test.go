package main

import (
	"os/exec"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// TestNftRefusesEveryKeywordAsASetName asks the installed nft, in a
// network namespace of the test's own, to add to a set named after each
// word of nftKeywords: each must be a syntax error. Names iblock accepts,
// and their IPv6 sets' names, must parse, and fail only because no such
// set exists.
func TestNftRefusesEveryKeywordAsASetName(t *testing.T) {
	ns := testkit.NewNamespace(t, "nft-keywords")
	nftBackend, nft := nft, testkit.NeedTool(t, "nft")
	add := func(set string) string {
		out, err := exec.Command("ip", "netns", "exec", ns, nft, "add", "element", "inet", "iblock", set, "{", "192.0.2.1", "}").CombinedOutput()
		if err == nil {
			t.Fatalf("nft added to set %q, which does not exist", set)
		}
		return string(out)
	}
	testkit.MustCombined(t, exec.Command("ip", "netns", "exec", ns, nft, "add", "table", "inet", "iblock"))
	for _, k := range strings.Fields(nftKeywords) {
		if out := add(k); !strings.Contains(out, "syntax error") {
			t.Errorf("nft read the keyword %q as a set name: %s", k, out)
		}
	}
	for _, name := range []string{"iblocked", "counters", "my-counter", "icmpv6x", "Counter", "_x", ".x", "a.b"} {
		if err := checkTable(name, nftBackend); err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{name, familySet(name, true)} {
			if out := add(set); !strings.Contains(out, "No such file or directory") {
				t.Errorf("set name %q, which iblock accepts: %s", set, out)
			}
		}
	}
}
