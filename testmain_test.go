package main

import (
	"os"
	"testing"

	"iblock/internal/testkit"
)

// TestMain runs the tests against iblock built once (see testkit.Run).
// The test binary is also the fakes (doas, pfctl, ...), the demo, and the
// spawner that spawn_test.go starts through another program.
func TestMain(m *testing.M) {
	testkit.RunFakeIfNamed()
	if os.Getenv("IBLOCK_DEMO") == "1" {
		os.Exit(demo())
	}
	if via := os.Getenv("IBLOCK_SPAWN_VIA"); via != "" {
		os.Exit(spawnOnce(via))
	}
	os.Exit(testkit.Run(m))
}
