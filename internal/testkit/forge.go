package testkit

// A local process that writes raw datagrams to a syslog socket, as any
// user of a host can: the test binary, installed into a booted system
// under the name Forge and run there.

import (
	"fmt"
	"net"
	"os"
)

// Forge is the name under which the test binary acts as forgeDatagrams
// (see RunFakeIfNamed).
const Forge = "iblock-forge"

// forgeDatagrams sends each argument after the first, as it is, as one
// datagram to the unix datagram socket named first.
func forgeDatagrams(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: "+Forge+" socket datagram...")
		return 2
	}
	c, err := net.Dial("unixgram", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	for _, d := range args[1:] {
		if _, err := c.Write([]byte(d)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}
