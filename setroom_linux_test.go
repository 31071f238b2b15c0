package main

// The shipped sets hold 65536 addresses each. The tests that measure what
// a ban costs by the size of the set fill them further: they give their
// test net room, and the loaders then load copies of the examples with
// every such set's size raised to it.

import (
	"strconv"
	"strings"
	"testing"
)

// shippedSetSize is the size of every set of the examples that the kernel
// or iblock adds to: nft's "size", ipset's "maxelem".
const shippedSetSize = "65536"

// examplePath returns the path of an example of examples/linux to load in
// n: the file itself, or a copy whose sets hold n.room addresses.
func (n *testNet) examplePath(name string) string {
	n.t.Helper()
	if n.room == 0 {
		return "examples/linux/" + name
	}
	return writeTemp(n.t, name, n.withRoom(n.t, exampleWithPaths(n.t, "linux/"+name)))
}

// withRoom raises the sizes of an example's sets to n.room, if set.
func (n *testNet) withRoom(t *testing.T, text string) string {
	if n.room == 0 {
		return text
	}
	room := strconv.Itoa(n.room)
	for _, key := range []string{"size ", "maxelem "} {
		text = strings.ReplaceAll(text, key+shippedSetSize, key+room)
	}
	return text
}
