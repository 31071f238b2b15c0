package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of a program the test needs. Without it the
// test is skipped, unless IBLOCK_E2E=1 (set by CI), where that is a failure.
func NeedTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin/", "/sbin/"} {
			if _, serr := os.Stat(dir + name); serr == nil {
				return dir + name
			}
		}
		SkipOrFail(t, name+" is not installed")
	}
	return path
}

// NeedRoot skips a test that needs root when not root (unless
// IBLOCK_E2E=1: then it fails), and always under go test -short: the
// privileged tests build network namespaces and run real firewalls, and
// -short is for the quick edit-and-test loop.
func NeedRoot(t *testing.T) {
	t.Helper()
	Slow(t)
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root")
	}
}

func SkipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("IBLOCK_E2E") == "1" {
		t.Fatal(why + " (IBLOCK_E2E=1 makes this a failure)")
	}
	t.Skip(why)
}

// Slow skips a test under go test -short. make test runs everything.
func Slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow; go test -short skips it")
	}
}
