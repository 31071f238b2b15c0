// Package netns tests iblock on Linux in network namespaces: the shipped
// rulesets (examples/linux) loaded in a server namespace, with nft or
// ipset, iblock behind openbsd-inetd or systemd-socket-activate, scanners
// (real ones: nmap, masscan, zmap) in a scanner namespace; the kernel-side
// rulesets against forged handshakes, floods and full sets, and on a
// host that forwards; bursts of a thousand scanners; what a ban costs as
// the sets grow (make bench-sets), and what full sets cost in memory.
//
// The tests need root and the tools of .ci/run; without them they skip,
// and with IBLOCK_E2E=1 a skip is a failure. They need the machine alone:
// run one such package at a time (make test does).
//
//	cd test/netns && go test -count=1
package netns
