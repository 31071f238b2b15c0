package testkit

import (
	"testing"
	"time"
)

// WaitUntil polls cond until it holds, and fails the test with what after
// timeout. Tests wait for a condition, never for a fixed time.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("after %v: %s", timeout, what)
	}
}

// Eventually polls cond every few milliseconds until it holds or timeout
// passes, and reports whether it held.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
	}
}
