package testkit

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// NeedNetAdmin is NeedRoot for a test that makes network namespaces and
// loads firewalls: it also skips when root lacks CAP_NET_ADMIN, as in a
// container that shares the host's network.
func NeedNetAdmin(t *testing.T) {
	t.Helper()
	NeedRoot(t)
	if !hasCapability(capNetAdmin) {
		SkipOrFail(t, "needs CAP_NET_ADMIN, which root lacks here (a container without a network of its own withholds it)")
	}
}

// capNetAdmin is CAP_NET_ADMIN's bit in the capability sets.
const capNetAdmin = 12

// hasCapability reports whether this process has a capability in its
// effective set, as Linux's /proc/self/status says; elsewhere, root has
// them all.
func hasCapability(bit uint) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			set, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err != nil || set&(1<<bit) != 0
		}
	}
	return true
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
