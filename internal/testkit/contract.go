package testkit

import "strings"

// What iblock.8 says of the sets, for the tests that read them.

// SetName is the set iblock adds a peer to with nft and ipset: table for
// IPv4, table followed by "6" for IPv6 (iblock.8, DESCRIPTION).
func SetName(table string, v6 bool) string {
	if v6 {
		return table + "6"
	}
	return table
}

// NftElementOf is what iblock adds to an nft set for a target: an address,
// or a network as its address alone, without "/bits" (iblock.8).
func NftElementOf(target string) string {
	addr, _, _ := strings.Cut(target, "/")
	return addr
}
