// Package examples checks the shipped files against iblock: the example
// configurations of examples/ (inetd, pf, doas, cron, munin, systemd
// units, nftables and ipset rulesets, the NixOS module, iblock-sets'
// saves and restores, damaged files and cost), the Makefile
// under BSD make and GNU make, and the manual page. Most checks run
// without root; those that load a ruleset need root, in a network
// namespace of their own.
//
//	cd test/examples && go test -count=1
package examples
