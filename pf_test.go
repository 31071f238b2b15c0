package main

import "testing"

func TestPfAddsThenKillsStatesUnlessK(t *testing.T) {
	checkBanCommands(t, []banCase{
		{nil, "192.0.2.1", "/usr/bin/doas -n /sbin/pfctl -t iblocked -T add 192.0.2.1|/usr/bin/doas -n /sbin/pfctl -k 192.0.2.1"},
		{[]string{"-K"}, "192.0.2.1", "/usr/bin/doas -n /sbin/pfctl -t iblocked -T add 192.0.2.1"},
		{[]string{"-d", "none", "-4", "24"}, "192.0.2.77", "/sbin/pfctl -t iblocked -T add 192.0.2.0/24|/sbin/pfctl -k 192.0.2.0/24"},
	})
}
