package main

import (
	"testing"

	"iblock/internal/testkit"
)

// A full set takes no more bans until some expire or the set grows: the
// err line says so in words after the program's status and answer.
func TestFullSetIsSaidInWords(t *testing.T) {
	const (
		nftAdd    = "P add element inet iblock "
		nftFull   = "exit status 1: Error: Could not process rule: Too many open files in system; "
		ipsetFull = "exit status 1: ipset v7.17: Hash is full, cannot add more elements; "
	)
	checkAll(t, []connCase{
		{name: "nft", backend: "nft", mode: "set-full", exit: exitFailure,
			run: []string{nftAdd + "iblocked { 127.0.0.1 }"},
			err: nftFull + "set iblocked is full, 127.0.0.1 is not banned"},
		{name: "nft IPv6", backend: "nft", sc: testkit.Loopback6, mode: "set-full", exit: exitFailure,
			run: []string{nftAdd + "iblocked6 { ::1 }"},
			err: nftFull + "set iblocked6 is full, ::1 is not banned"},
		{name: "ipset", backend: "ipset", mode: "set-full", exit: exitFailure,
			run: []string{"P add iblocked 127.0.0.1 -exist"},
			err: ipsetFull + "set iblocked is full, 127.0.0.1 is not banned"},
		{name: "ipset through doas", backend: "ipset", doas: true, mode: "set-full", exit: exitFailure,
			run: []string{"D -n P add iblocked 127.0.0.1 -exist", "P add iblocked 127.0.0.1 -exist"},
			err: ipsetFull + "set iblocked is full, 127.0.0.1 is not banned"},
	})
}
