package main

import "testing"

// pf adds, then, unless -K, kills the states, as testdata/contract.txt
// says.
func TestPfAddsThenKillsStatesUnlessK(t *testing.T) { checkContract(t, "pf") }
