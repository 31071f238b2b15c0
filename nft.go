package main

import "strings"

// nft, Linux's nftables: iblock adds to the set of the peer's family in
// table inet iblock.
//
// What nft's answers mean, each with exit status 1:
//   - "Too many open files in system", the kernel's ENFILE: the set holds
//     its size in elements;
//   - "interval overlaps with an existing one": adds to an interval set
//     that run at the same time, as in a burst of scanners, now and then
//     fail so; run again, they pass. The sets iblock adds to in the
//     shipped rulesets (iblocked*, and the kernel's syn_banned*) are not
//     interval sets; their allow sets are, and so may the ban sets of
//     rulesets written before;
//   - "No such file or directory": there is no such set (or table).
var nft = &backend{
	name:       "nft",
	program:    "/usr/sbin/nft",
	tableLen:   maxTableLen,
	familySets: true,
	ban:        runCommands,
	commands:   nftCommands,
	passing:    "interval overlaps with an existing one",
	full:       "Too many open files in system",
	missing:    "No such file or directory",
	createSet:  nftCreateSet,
	checkSets:  checkNftSets,
}

func nftCommands(conf *config, set, target string) [][]string {
	return [][]string{{conf.program, "add", "element", "inet", "iblock", set, "{", nftElement(target), "}"}}
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

// nftCreateSet names the commands that create a missing set. The set needs
// a timeout for expiry, no "interval" flag (see nftElement), and "dynamic"
// lets the kernel-side ruleset add to it.
func nftCreateSet(program, set string, v6 bool) string {
	typ := "ipv4_addr"
	if v6 {
		typ = "ipv6_addr"
	}
	return " from table inet iblock, create it with: " +
		program + " add table inet iblock; " + program + " add set inet iblock " + set +
		" '{ type " + typ + "; size 1048576; flags dynamic, timeout; timeout 10d; }'"
}
