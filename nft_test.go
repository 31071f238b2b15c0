package main

import "testing"

func TestNftAddsTheAddressOrTheNetworksAddressToTheFamilySet(t *testing.T) {
	checkBanCommands(t, []banCase{
		{[]string{"-d", "none", "-b", "nft"}, "192.0.2.1", "/usr/sbin/nft add element inet iblock iblocked { 192.0.2.1 }"},
		{[]string{"-d", "none", "-b", "nft", "-4", "24"}, "192.0.2.77", "/usr/sbin/nft add element inet iblock iblocked { 192.0.2.0 }"},
		{[]string{"-d", "none", "-b", "nft", "-6", "64"}, "2001:db8:0:1:2:3:4:5", "/usr/sbin/nft add element inet iblock iblocked6 { 2001:db8:0:1:: }"},
	})
}
