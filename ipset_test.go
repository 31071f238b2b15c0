package main

import "testing"

// ipset adds the address or network to the set of its family, as
// testdata/contract.txt says.
func TestIpsetAddsToTheFamilySet(t *testing.T) { checkContract(t, "ipset") }
