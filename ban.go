package main

import "net/netip"

// ban bans the peer unless it is spared (an address of this host,
// link-local, allowlisted), logging what it does. The error it returns is
// what failed, for the log.
func ban(conf *config, allow []netip.Prefix, host []netip.Addr, peer netip.Addr, log *logger, sp *spawner) error {
	if why := spared(allow, host, peer); why != "" {
		log.notice("not blocking " + peer.String() + ": " + why)
		return nil
	}
	target, why := banTarget(conf, withHost(allow, host), peer)
	if why != "" {
		why = " alone: " + why
	}
	switch {
	case !conf.dryRun:
		log.notice("blocking " + target + why)
	case why != "":
		log.notice("dry run: would block " + target + why)
	}
	return conf.backend.ban(conf, target, peer.Is6(), log, sp)
}

// banTarget is what goes into the table: the address itself, or the
// network around it when -4 or -6 ask for a shorter prefix. A network that
// would cover an allowlisted address is never banned: then the address
// alone is, and why says so.
func banTarget(conf *config, allow []netip.Prefix, addr netip.Addr) (target, why string) {
	bits := conf.bits4
	if addr.Is6() {
		bits = conf.bits6
	}
	if bits == addr.BitLen() {
		return addr.String(), ""
	}
	network := netip.PrefixFrom(addr, bits).Masked()
	for _, p := range allow {
		if p.Overlaps(network) {
			spared := p.String()
			if p.IsSingleIP() {
				spared = p.Addr().String()
			}
			return addr.String(), network.String() + " would cover allowlisted " + spared
		}
	}
	return network.String(), ""
}
