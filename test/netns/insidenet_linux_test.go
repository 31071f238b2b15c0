package netns

// Networks behind the server namespace, which then forwards: a LAN behind
// a router (one namespace on a veth of its own), or containers on a bridge
// (two namespaces). The scanner namespace plays the outside world, with a
// route to them through the server.

import (
	"net"
	"strconv"
	"testing"
	"time"

	"iblock/internal/testkit"
)

const (
	inside4Net = "198.51.100.0/24"
	inside6Net = "2001:db8:100::/64"
	router4    = "198.51.100.1"
	router6    = "2001:db8:100::1"
)

// insideHost is one namespace behind the server, with its addresses.
type insideHost struct {
	ns, addr4, addr6 string
}

// addInside creates the hosts behind the server: a routed LAN of one host
// (bridge false), or two containers on a bridge. Forwarding is switched on.
func (n *testNet) addInside(bridge bool) []insideHost {
	n.T.Helper()
	count := 1
	if bridge {
		count = 2
		n.IPBatch(n.Server, "link add br0 type bridge", "addr add "+router4+"/24 dev br0",
			"addr add "+router6+"/64 dev br0 nodad", "link set br0 up")
	}
	var hosts []insideHost
	for i := range count {
		h := insideHost{testkit.NewNamespace(n.T, "in"), "198.51.100." + strconv.Itoa(2+i), "2001:db8:100::" + strconv.Itoa(2+i)}
		dev := "in" + strconv.Itoa(i)
		n.IPBatch(n.Server, "link add "+dev+" type veth peer name eth0 netns "+h.ns, "link set "+dev+" up")
		if bridge {
			n.IPBatch(n.Server, "link set "+dev+" master br0")
		} else {
			n.IPBatch(n.Server, "addr add "+router4+"/24 dev "+dev, "addr add "+router6+"/64 dev "+dev+" nodad")
		}
		n.IPBatch(h.ns, "link set lo up", "addr add "+h.addr4+"/24 dev eth0", "addr add "+h.addr6+"/64 dev eth0 nodad",
			"link set eth0 up", "route add default via "+router4, "route add default via "+router6)
		hosts = append(hosts, h)
	}
	n.MustRun("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	n.IPBatch(n.Scanner, "route add "+inside4Net+" via "+testkit.Server4, "route add "+inside6Net+" via "+testkit.Server6)
	return hosts
}

// serveIn runs, in namespace ns, a service on each port that greets as the
// server's service does.
func serveIn(t *testing.T, ns string, ports ...string) {
	t.Helper()
	for _, port := range ports {
		testkit.ListenIn(t, ns, ":"+port, func(c net.Conn) {
			c.Write([]byte("service\n"))
			c.Close()
		})
	}
}

// greetedFrom reports whether a connection from namespace ns, address
// from, to to:port gets a service's greeting, not the trap.
func greetedFrom(ns, from, to, port string) bool {
	c, err := testkit.DialFrom(ns, from, to, port, 2*time.Second)
	return err == nil && testkit.Greeted(c)
}
