package boot

import (
	"testing"

	"iblock/internal/testkit"
)

// TestBootedSystemLeavesNothingOnTheHost boots a system, checks that
// nspawn made its files on the host (the lock of the root directory, the
// mount propagation directory), then removes the running system as the
// end of every booted test does, killing nspawn, which then cleans up
// nothing, and expects every one of them gone. (A clean poweroff lets
// nspawn remove them itself.) Each booted test's cleanup checks the same,
// and this proves that check can see what it looks for.
func TestBootedSystemLeavesNothingOnTheHost(t *testing.T) {
	testkit.NeedRoot(t)
	root := testkit.OverlayRoot(t)
	c := bootContainer(t, newTestNet(t), root)
	running := c.Footprint()
	if len(running) != 2 {
		t.Fatalf("while the system runs, nspawn's files on the host are %q, want its lock and propagation directory", running)
	}
	c.Remove()
	if left := c.Footprint(); len(left) > 0 {
		t.Errorf("after the system was removed the host still holds %q", left)
	}
}
