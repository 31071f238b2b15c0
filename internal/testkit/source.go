package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// CopySource copies what building iblock and its Makefile need (the Go
// files of the product and of its tests, go.mod, the Makefile, the
// manual, the benchmark's C, the examples and the packaging) into a new directory, and
// returns it.
func CopySource(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, pattern := range []string{"*.go", "go.mod", "go.sum", "Makefile", "iblock.8", "bench/*.c", "examples/*", "examples/*/*", "examples/*/*/*", "LICENSE", "packaging/*",
		"internal/testkit/*.go", "test/*/*.go"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, f := range m {
			rel, _ := filepath.Rel(root, f)
			files = append(files, rel)
		}
	}
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
