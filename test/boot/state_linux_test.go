package boot

// What a booted system holds: the elements of every set of the iblock
// table with the seconds each has left.

import (
	"slices"
	"testing"

	"iblock/internal/testkit"
)

// setState is what a save and restore of the sets must keep.
type setState = testkit.SetState

// nftSets reads every set of table inet iblock in the server namespace.
func (n *testNet) nftSets() setState {
	n.T.Helper()
	return testkit.SecondsLeft(n.NftSets())
}

// wantSameBans fails the test unless after holds the elements of before,
// set by set, each with the time it had left less at most elapsed (and
// a second of nft's rounding either way): a restore that started an
// element's timeout over would show more, one that lost it none.
func wantSameBans(t *testing.T, before, after setState, elapsedSeconds int64) {
	t.Helper()
	for set, elems := range before {
		if got, want := after.Addresses(set), before.Addresses(set); !slices.Equal(got, want) {
			t.Errorf("set %s holds %d elements, want the %d it held: missing %q, new %q",
				set, len(got), len(want), testkit.First(missing(want, got), 5), testkit.First(missing(got, want), 5))
			continue
		}
		for addr, left := range elems {
			now := after[set][addr]
			if left < 0 {
				continue
			}
			if now > left+1 || now < left-elapsedSeconds-1 {
				t.Errorf("set %s: %s had %d s left, %d s later it has %d s", set, addr, left, elapsedSeconds, now)
			}
		}
	}
}

// missing returns what is in a and not in b.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
