package main

// What a booted system holds: the elements of every set of the iblock
// table with the seconds each has left, and the journal's entries.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// setState maps each set of table inet iblock to its elements, each with
// the seconds left before it expires (-1: it does not expire).
type setState map[string]map[string]int64

// nftSets reads every set of table inet iblock in the server namespace.
func (n *testNet) nftSets() setState {
	n.t.Helper()
	out := n.mustRun("nft", "-j", "list", "table", "inet", "iblock")
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		n.t.Fatalf("nft -j: %v", err)
	}
	sets := setState{}
	for _, obj := range doc.Nftables {
		raw, ok := obj["set"]
		if !ok {
			continue
		}
		var set struct {
			Name string            `json:"name"`
			Elem []json.RawMessage `json:"elem"`
		}
		if err := json.Unmarshal(raw, &set); err != nil {
			n.t.Fatalf("nft -j set: %v", err)
		}
		sets[set.Name] = map[string]int64{}
		for _, e := range set.Elem {
			key, expires := nftJSONElement(e)
			sets[set.Name][key] = expires
		}
	}
	return sets
}

// nftJSONElement reads one element of nft's JSON: a bare value, or an object
// that carries the value and its expiry.
func nftJSONElement(raw json.RawMessage) (string, int64) {
	var timed struct {
		Elem *struct {
			Val     json.RawMessage `json:"val"`
			Expires *int64          `json:"expires"`
		} `json:"elem"`
	}
	if json.Unmarshal(raw, &timed) == nil && timed.Elem != nil {
		expires := int64(-1)
		if timed.Elem.Expires != nil {
			expires = *timed.Elem.Expires
		}
		return nftJSONValue(timed.Elem.Val), expires
	}
	return nftJSONValue(raw), -1
}

// nftJSONValue spells an address, a prefix or a range as nft's text does.
func nftJSONValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var v struct {
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
		Range []string `json:"range"`
	}
	if json.Unmarshal(raw, &v) == nil && v.Prefix != nil {
		return fmt.Sprintf("%s/%d", v.Prefix.Addr, v.Prefix.Len)
	}
	if len(v.Range) == 2 {
		return v.Range[0] + "-" + v.Range[1]
	}
	return string(raw)
}

// count is the number of elements in all sets.
func (s setState) count() int {
	k := 0
	for _, elems := range s {
		k += len(elems)
	}
	return k
}

// addresses lists a set's elements, sorted.
func (s setState) addresses(set string) []string {
	var addrs []string
	for a := range s[set] {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs
}

// wantSameBans fails the test unless after holds the elements of before,
// set by set, each with the time it had left less at most elapsed (and
// a second of nft's rounding either way): a restore that started an
// element's timeout over would show more, one that lost it none.
func wantSameBans(t *testing.T, before, after setState, elapsedSeconds int64) {
	t.Helper()
	for set, elems := range before {
		if got, want := after.addresses(set), before.addresses(set); !slices.Equal(got, want) {
			t.Errorf("set %s holds %d elements, want the %d it held: missing %q, new %q",
				set, len(got), len(want), first(missing(want, got), 5), first(missing(got, want), 5))
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

// journal returns the container's journal entries that match the given
// journalctl arguments, each as its fields. (journalctl --grep would exit
// 1 when nothing matches: callers filter the messages themselves.)
func (c *container) journal(args ...string) []map[string]string {
	c.t.Helper()
	out := c.mustRun(append([]string{"journalctl", "--no-pager", "-o", "json"}, args...)...)
	var entries []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			c.t.Fatalf("journalctl -o json: %v: %s", err, line)
		}
		e := map[string]string{}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				e[k] = s
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// journalMessages returns the messages alone of the container's journal
// entries that match the given journalctl arguments: far less to read
// than journal's JSON when the test polls.
func (c *container) journalMessages(args ...string) []string {
	c.t.Helper()
	out := c.mustRun(append([]string{"journalctl", "--no-pager", "-q", "-o", "cat"}, args...)...)
	var msgs []string
	for _, line := range strings.Split(out, "\n") {
		if line != "" {
			msgs = append(msgs, line)
		}
	}
	return msgs
}
