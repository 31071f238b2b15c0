package main

import (
	"fmt"
	"strings"
)

// checkNftSets refuses a table whose sets, v4 and v6, nft would not read
// as set names.
func checkNftSets(table, v4, v6 string) error {
	// nft reads a word that starts with a digit as a number, and one that
	// starts with '-' as an option: its names start with a letter, '_' or '.'.
	for _, set := range []string{v4, v6} {
		if c := set[0]; c >= '0' && c <= '9' {
			return fmt.Errorf("bad table name %q: nft takes a set name that starts with a letter, '_' or '.'", table)
		}
	}
	if nftKeyword(v4) {
		return fmt.Errorf("bad table name %q: nft reads %q as a keyword, not as a set name", table, v4)
	}
	if nftKeyword(v6) {
		return fmt.Errorf("bad table name %q: nft reads the IPv6 set's name %q as a keyword, not as a set name", table, v6)
	}
	return nil
}

// nftKeywords are the words nft reads as keywords where a set name belongs,
// as in "add element inet iblock NAME { ... }": there every add to a set so
// named fails with a syntax error, and nft 1.0.6 (Debian 12) takes no
// quoted set name instead. They are the words of its grammar, each tried
// as a set name with that nft (TestNftRefusesEveryKeywordAsASetName does
// it again with the installed one). A later nft may know more.
const nftKeywords = `
accept add ah all arp auto-merge bridge cgroup chain comment comp
constant continue counter cpu create ct day dccp define delete describe
device devices dnat drop dst dup dynamic ecn element elements esp ether
exists expires export exthdr fib flags flow flowtable flush frag fwd
gc-interval get goto handle hbh hook hour ibriport ibrname icmp icmpv6
igmp iif iifgroup iifname iiftype import include index inet insert
interval ip ip6 ipsec jhash jump limit list log map mark masquerade
meta meter mh missing monitor netdev nftrace notrack numgen obriport
obrname offload oif oifgroup oifname oiftype osf pkttype policy
position priority queue quota random redefine redirect reject rename
replace reset return rt rt0 rt2 rtclassid rule ruleset sctp secmark set
size skgid skuid snat socket srh symhash synproxy table tcp th time
timeout tproxy type typeof udp udplite undefine update vlan vmap xt`

// nftKeyword reports whether nft reads word as one of its keywords.
func nftKeyword(word string) bool {
	for _, k := range strings.Fields(nftKeywords) {
		if k == word {
			return true
		}
	}
	return false
}
