package testkit

import (
	"slices"
	"time"
)

// SetState maps each set to its elements, each with the whole seconds it
// has left before it expires (-1: it does not expire): what a save and
// restore of the sets must keep.
type SetState map[string]map[string]int64

// SecondsLeft turns what NftSets and IpsetSets read into a SetState.
func SecondsLeft(sets map[string]map[string]time.Duration) SetState {
	out := SetState{}
	for name, elems := range sets {
		out[name] = map[string]int64{}
		for e, left := range elems {
			out[name][e] = int64(left / time.Second)
			if left < 0 {
				out[name][e] = -1
			}
		}
	}
	return out
}

// Saved keeps the sets iblock-sets saves: the long bans and the allow
// sets, whose IPv4 name is allow.
func (s SetState) Saved(allow string) SetState {
	out := SetState{}
	for _, set := range []string{"iblocked", "iblocked6", allow, allow + "6"} {
		if elems, ok := s[set]; ok {
			out[set] = elems
		}
	}
	return out
}

// Count is the number of elements in all sets.
func (s SetState) Count() int {
	k := 0
	for _, elems := range s {
		k += len(elems)
	}
	return k
}

// Addresses lists a set's elements, sorted.
func (s SetState) Addresses(set string) []string {
	var addrs []string
	for a := range s[set] {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs
}
