package main

// The four backends, pf, npf, nft and ipset: the argv of a ban on each, and
// what their answers mean (already banned, worth another try, a full or a
// missing set).

import (
	"bytes"
	"net/netip"
	"strings"
)

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

// familySet is the nft set or ipset for the family: nft and ipset sets hold
// one family each, so IPv6 goes to the table name with a "6".
func familySet(table string, v6 bool) string {
	if v6 {
		return table + "6"
	}
	return table
}

// nftElement is what iblock adds to an nft set for a target: the address,
// or for a network the network's address alone. The sets have no
// "interval" flag, which would make every add cost time in proportion to
// the set's size; the ruleset bans a network by looking up the source
// masked to the same length (its v4_mask and v6_mask).
func nftElement(target string) string {
	addr, _, _ := strings.Cut(target, "/")
	return addr
}

// banCommands returns the argv of each command, in order; each runs only if
// the one before it succeeded. pf kills states in a second call, because in
// one pfctl call -k runs before -T and would act before the ban exists.
func banCommands(conf *config, target string, v6 bool) [][]string {
	p, t := conf.program, conf.table
	var cmds [][]string
	switch conf.backend {
	case "pf":
		cmds = append(cmds, []string{p, "-t", t, "-T", "add", target})
		if !conf.keepStates {
			cmds = append(cmds, []string{p, "-k", target})
		}
	case "npf":
		cmds = append(cmds, []string{p, "table", t, "add", target})
	case "nft":
		cmds = append(cmds, []string{p, "add", "element", "inet", "iblock", familySet(t, v6), "{", nftElement(target), "}"})
	case "ipset":
		cmds = append(cmds, []string{p, "add", familySet(t, v6), target, "-exist"})
	}
	if conf.helper != "" {
		for i, argv := range cmds {
			cmds[i] = append([]string{conf.helper, "-n"}, argv...)
		}
	}
	return cmds
}

// alreadyBanned reports whether a failed command only says the address was
// in the table already, which is what npfctl does.
func alreadyBanned(backend string, res *result) bool {
	return backend == "npf" && res.exitedWith(1) && bytes.Contains(res.output, []byte("entry already exists"))
}

// failureHint explains a failed nft or ipset add whose set is full or
// does not exist, for the end of the err line; it is "" for any other
// failure.
func failureHint(conf *config, res *result, target string, v6 bool) string {
	if setFull(conf.backend, res) {
		return "; set " + familySet(conf.table, v6) + " is full, " + target + " is not banned"
	}
	return missingSetHint(conf, res, v6)
}

// setFull reports whether an add failed because the set holds as many
// elements as it may: nft's size, for which nft prints the kernel's
// ENFILE, or ipset's maxelem.
func setFull(backend string, res *result) bool {
	switch backend {
	case "nft":
		return res.exitedWith(1) && bytes.Contains(res.output, []byte("Too many open files in system"))
	case "ipset":
		return res.exitedWith(1) && bytes.Contains(res.output, []byte("Hash is full"))
	}
	return false
}

// missingSetHint explains a failed nft or ipset add whose set does not exist
// and names the command that creates it; it is "" for any other failure.
// The set needs a timeout for expiry; an nft set needs no "interval" flag
// (see nftElement) and "dynamic" lets the kernel-side ruleset add to it.
func missingSetHint(conf *config, res *result, v6 bool) string {
	set := familySet(conf.table, v6)
	nftType, ipsetFamily := "ipv4_addr", "inet"
	if v6 {
		nftType, ipsetFamily = "ipv6_addr", "inet6"
	}
	switch {
	case conf.backend == "nft" && bytes.Contains(res.output, []byte("No such file or directory")):
		return "; set " + set + " is missing from table inet iblock, create it with: " +
			conf.program + " add table inet iblock; " + conf.program + " add set inet iblock " + set +
			" '{ type " + nftType + "; size 1048576; flags dynamic, timeout; timeout 10d; }'"
	case conf.backend == "ipset" && bytes.Contains(res.output, []byte("does not exist")):
		return "; set " + set + " is missing, create it with: " +
			conf.program + " create " + set + " hash:net family " + ipsetFamily + " timeout 864000"
	}
	return ""
}

// addTries is how many times an add that failed for a passing reason runs.
const addTries = 3

// worthRetrying reports whether a failed command may succeed if run again.
// nft adds to an interval set that run at the same time, as in a burst of
// scanners, now and then fail with a spurious overlap; run again, they pass.
// The sets iblock adds to in the shipped rulesets (iblocked*, and the
// kernel's syn_banned*) are not interval sets; their allow sets are, and
// so may the ban sets of rulesets written before.
func worthRetrying(backend string, res *result) bool {
	return backend == "nft" && res.exitedWith(1) &&
		bytes.Contains(res.output, []byte("interval overlaps with an existing one"))
}
