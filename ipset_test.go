package main

import "testing"

func TestIpsetAddsToTheFamilySet(t *testing.T) {
	checkBanCommands(t, []banCase{
		{[]string{"-d", "none", "-b", "ipset", "-6", "48"}, "2001:db8:5:6::1", "/usr/sbin/ipset add iblocked6 2001:db8:5::/48 -exist"},
		{[]string{"-b", "ipset"}, "198.51.100.3", "/usr/bin/doas -n /usr/sbin/ipset add iblocked 198.51.100.3 -exist"},
	})
}
