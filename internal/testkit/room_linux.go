package testkit

// The shipped sets hold 65536 addresses each. The tests that measure what
// a ban costs by the size of the set fill them further: they give their
// Net room, and the loaders then load copies of the examples with every
// such set's size raised to it.

import (
	"strconv"
	"strings"
)

// shippedSetSize is the size of every set of the examples that the kernel
// or iblock adds to: nft's "size", ipset's "maxelem".
const shippedSetSize = "65536"

// examplePath returns the path of an example of examples/linux to load in
// n: the file itself, or, with n.Room or an edit, a copy whose sets hold
// n.Room addresses, then edited.
func (n *Net) examplePath(name string, edit func(text string) string) string {
	n.T.Helper()
	if n.Room == 0 && edit == nil {
		return SourcePath("examples/linux/" + name)
	}
	text := n.withRoom(ExampleWithPaths(n.T, "linux/"+name))
	if edit != nil {
		text = edit(text)
	}
	return WriteTemp(n.T, name, text)
}

// withRoom raises the sizes of an example's sets to n.Room, if set.
func (n *Net) withRoom(text string) string {
	if n.Room == 0 {
		return text
	}
	room := strconv.Itoa(n.Room)
	for _, key := range []string{"size ", "maxelem "} {
		text = strings.ReplaceAll(text, key+shippedSetSize, key+room)
	}
	return text
}
