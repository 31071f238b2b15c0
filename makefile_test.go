package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakefileWorksUnderBSDMakeAndGNUMake runs the Makefile's targets with
// both makes in a copy of the source: all, install and clean for real, demo
// for real, and test and bench as the commands they would run (they would
// run this test again).
func TestMakefileWorksUnderBSDMakeAndGNUMake(t *testing.T) {
	for _, makeName := range []string{"make", "bmake"} {
		t.Run(makeName, func(t *testing.T) {
			t.Parallel()
			mk := needTool(t, makeName)
			src := copySource(t)
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(mk, args...)
				cmd.Dir = src
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", makeName, strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			run("all")
			if _, err := os.Stat(filepath.Join(src, "iblock")); err != nil {
				t.Fatal("make all built no iblock")
			}
			dest := t.TempDir()
			run("install", "DESTDIR="+dest, "PREFIX=/usr", "MANDIR=/usr/share/man")
			for _, f := range []string{"usr/bin/iblock", "usr/share/man/man8/iblock.8"} {
				if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
					t.Errorf("install: %v", err)
				}
			}
			run("install", "DESTDIR="+dest, "BINDIR=/sbin")
			if _, err := os.Stat(filepath.Join(dest, "sbin/iblock")); err != nil {
				t.Errorf("install with BINDIR: %v", err)
			}
			run("clean")
			if _, err := os.Stat(filepath.Join(src, "iblock")); !os.IsNotExist(err) {
				t.Error("make clean left iblock")
			}
			if out := run("demo"); !strings.Contains(out, "blocking 127.0.0.1") {
				t.Errorf("make demo:\n%s", out)
			}
			if out := run("-n", "test"); !strings.Contains(out, "go test -count=1\n") || !strings.Contains(out, "GOOS=$os GOARCH=$arch") {
				t.Errorf("make -n test:\n%s", out)
			}
			if out := run("-n", "fuzz", "FUZZTIME=3s"); !strings.Contains(out, `-fuzz "^$f\$" -fuzztime 3s`) ||
				!strings.Contains(out, "for f in FuzzTableName FuzzAllowlist FuzzFlagsToArgv") {
				t.Errorf("make -n fuzz:\n%s", out)
			}
			if out := run("-n", "bench"); !strings.Contains(out, "-bench PerConnection") {
				t.Errorf("make -n bench:\n%s", out)
			}
			if out := run("-n", "bench-sets"); !strings.Contains(out, "IBLOCK_BENCH_SETS=1 go test -count=1 -timeout 30m -run '^TestBanCostBySetSize$'") {
				t.Errorf("make -n bench-sets:\n%s", out)
			}
		})
	}
}

// copySource copies what building and testing need into a new directory.
func copySource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, pattern := range []string{"*.go", "go.mod", "go.sum", "Makefile", "iblock.8", "bench/*.c", "examples/*", "examples/*/*"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			continue
		}
		data, err := os.ReadFile(f)
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
