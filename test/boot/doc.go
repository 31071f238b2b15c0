// Package boot tests the Linux install in a booted Debian system:
// systemd as PID 1 under systemd-nspawn, in a network namespace, with
// iblock.socket, iblock@.service, the nftables ruleset and iblock-sets
// installed as the documentation says, and the ipset setup with
// iblock-iptables.service; reloads and restarts of the firewall's unit,
// reboots, power cuts and a burst.
//
// The tests need root, systemd-nspawn and mmdebstrap (which builds the
// root file system once, into /var/cache/iblock-test); they leave nothing
// behind on the host. They need the machine alone.
//
//	cd test/boot && go test -count=1
package boot
