package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultAllowlist is the loopback networks: a program on the machine that
// touches a trap port through loopback is not banned (the C original
// would ban it). The machine's other addresses need no entry: iblock never
// bans them, whatever the allowlist says (see spared). Each call returns
// a list of its own.
func defaultAllowlist() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}
}

// maxAllowlistSize bounds what iblock reads for every connection.
const maxAllowlistSize = 1 << 20

// loadAllowlist reads the allowlist file, or returns the default one for "".
func loadAllowlist(path string) ([]netip.Prefix, error) {
	if path == "" {
		return defaultAllowlist(), nil
	}
	data, err := readSmallFile(path, maxAllowlistSize)
	if err != nil {
		return nil, fmt.Errorf("allowlist %s: %w", path, err)
	}
	list, err := parseAllowlist(string(data))
	if err != nil {
		return nil, fmt.Errorf("allowlist %s: %w", path, err)
	}
	return list, nil
}

// readSmallFile reads a regular file of at most limit bytes; /dev/null
// reads as empty. Anything else (a FIFO, a device, a directory) is an
// error, found without waiting: the open does not block (O_NONBLOCK), and
// fstat tells what was opened. It uses plain system calls: os.File would
// start Go's network poller for one read.
func readSmallFile(path string, limit int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st, null unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFREG:
	case st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Stat("/dev/null", &null) == nil && st.Rdev == null.Rdev:
		return nil, nil
	default:
		return nil, errors.New("not a regular file")
	}
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		if buf = buf[:len(buf)+n]; len(buf) > limit {
			return nil, fmt.Errorf("larger than %d MiB", limit>>20)
		}
	}
}

// parseAllowlist reads one address or prefix per line; '#' starts a comment.
func parseAllowlist(text string) ([]netip.Prefix, error) {
	var list []netip.Prefix
	for i, line := range strings.Split(text, "\n") {
		if hash := strings.IndexByte(line, '#'); hash >= 0 {
			line = line[:hash]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, err := parseAllowEntry(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not an address or a prefix", i+1, line)
		}
		list = append(list, p)
	}
	return list, nil
}

// parseAllowEntry parses "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" and
// normalises them the way peers are normalised: no zone, IPv4-mapped as IPv4.
func parseAllowEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() {
			if bits < 96 {
				return p, errors.New("mapped prefix too short")
			}
			addr, bits = addr.Unmap(), bits-96
		}
		return netip.PrefixFrom(addr, bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("bad address")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// allowed reports whether addr falls in one of the prefixes.
func allowed(list []netip.Prefix, addr netip.Addr) bool {
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// hostAddresses returns the addresses of this host's interfaces, as they
// are now: an address added after boot, a bridge's, a temporary IPv6
// address. Loopback addresses are left out: the allowlist governs them,
// so that "-w /dev/null" still bans a peer on loopback. It asks the
// kernel (netlink on Linux, a routing sysctl on the BSDs) before the
// sandbox; on failure it returns nothing, and the allowlist still holds.
func hostAddresses() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var own []netip.Addr
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		addr, ok := netip.AddrFromSlice(ipnet.IP)
		if !ok || addr.Unmap().IsLoopback() {
			continue
		}
		own = append(own, addr.Unmap())
	}
	return own
}

// spared says why peer is never banned, or returns "". A peer with an
// address of this host is one of the host's own programs: a local account
// that binds a trap port as its source port and connects to itself must
// not get the host banned here, nor, through the log line, on every host
// of a fleet. A link-local peer is a router or a neighbour of this link,
// whose ban would cut the link. Then the allowlist.
func spared(allow []netip.Prefix, host []netip.Addr, peer netip.Addr) string {
	for _, a := range host {
		if a == peer {
			return "an address of this host"
		}
	}
	if peer.IsLinkLocalUnicast() {
		return "link-local"
	}
	if allowed(allow, peer) {
		return "allowlisted"
	}
	return ""
}

// withHost returns the allowlist with this host's addresses added, for
// prefix bans: a network ban (-4, -6) that would cover one of them bans
// the peer's address alone, or the host would be banned with its network,
// here and by every host of a fleet that believes the log line.
func withHost(allow []netip.Prefix, host []netip.Addr) []netip.Prefix {
	list := make([]netip.Prefix, 0, len(host)+len(allow))
	for _, a := range host {
		list = append(list, netip.PrefixFrom(a, a.BitLen()))
	}
	return append(list, allow...)
}
