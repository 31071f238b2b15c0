package main

import "testing"

// npf adds to the table, for both families, as testdata/contract.txt
// says.
func TestNpfAddsToTheTable(t *testing.T) { checkContract(t, "npf") }

func TestNpfExistingEntryIsTheOnlyAcceptedFailure(t *testing.T) {
	exists := &result{output: []byte("npfctl: entry already exists or is conflicting\n")}
	exists.status = 1 << 8 // exited with status 1
	if !npf.alreadyBanned(exists) {
		t.Error("npf existing entry not accepted")
	}
	if pf.alreadyBanned(exists) {
		t.Error("pf accepted npf's answer")
	}
	other := &result{output: []byte("npfctl: table not found\n"), status: 1 << 8}
	if npf.alreadyBanned(other) {
		t.Error("other npf failure accepted")
	}
}
