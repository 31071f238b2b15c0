package main

import "testing"

// nft adds the address, or a network's address alone, to the set of its
// family, as testdata/contract.txt says.
func TestNftAddsTheAddressOrTheNetworksAddressToTheFamilySet(t *testing.T) {
	checkContract(t, "nft")
}
