package examples

import (
	"testing"

	"iblock/internal/testkit"
)

// TestMain builds iblock once; the test binary is also the fakes (see
// testkit.Main).
func TestMain(m *testing.M) { testkit.Main(m) }
