package fleet

import (
	"testing"

	"iblock/internal/testkit"
)

// TestMain builds iblock once; the test binary is also the fakes and the
// scanner side of a burst (see testkit.Main).
func TestMain(m *testing.M) { testkit.Main(m) }

// testNet is a testkit.Net with the methods of this package's tests.
type testNet struct{ *testkit.Net }
