package main

// ipset, for Linux's iptables: iblock adds to the set of the peer's
// family. ipset takes set names of up to 31 bytes, and the IPv6 set's name
// has a "6" more. Its answers, with exit status 1: "Hash is full" when the
// set holds maxelem elements, "does not exist" when there is no such set.
// -exist makes an address already in the set a success.
var ipset = &backend{
	name:       "ipset",
	program:    "/usr/sbin/ipset",
	tableLen:   maxTableLen - 1,
	familySets: true,
	ban:        runCommands,
	commands:   ipsetCommands,
	full:       "Hash is full",
	missing:    "does not exist",
	createSet:  ipsetCreateSet,
}

func ipsetCommands(conf *config, set, target string) [][]string {
	return [][]string{{conf.program, "add", set, target, "-exist"}}
}

// ipsetCreateSet names the command that creates a missing set, with a
// timeout for expiry.
func ipsetCreateSet(program, set string, v6 bool) string {
	family := "inet"
	if v6 {
		family = "inet6"
	}
	return ", create it with: " + program + " create " + set + " hash:net family " + family + " timeout 864000"
}
