package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakefileWorksUnderBSDMakeAndGNUMake runs the Makefile's targets with
// both makes in a copy of the source: all, install, clean and demo for
// real; test, fuzz and bench with GO set to a stand-in go that records
// what make runs (the real ones would run this test again).
func TestMakefileWorksUnderBSDMakeAndGNUMake(t *testing.T) {
	slow(t)
	for _, makeName := range []string{"make", "bmake"} {
		t.Run(makeName, func(t *testing.T) {
			t.Parallel()
			mk := needTool(t, makeName)
			src := copySource(t)
			run := func(args ...string) (string, error) {
				cmd := exec.Command(mk, args...)
				cmd.Dir = src
				cmd.Env = withoutGoTarget(os.Environ())
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			mustRun := func(args ...string) string {
				t.Helper()
				out, err := run(args...)
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", makeName, strings.Join(args, " "), err, out)
				}
				return out
			}
			mustRun("all")
			if _, err := os.Stat(filepath.Join(src, "iblock")); err != nil {
				t.Fatal("make all built no iblock")
			}
			dest := t.TempDir()
			mustRun("install", "DESTDIR="+dest, "PREFIX=/usr", "MANDIR=/usr/share/man")
			for _, f := range []string{"usr/bin/iblock", "usr/share/man/man8/iblock.8"} {
				if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
					t.Errorf("install: %v", err)
				}
			}
			mustRun("install", "DESTDIR="+dest, "BINDIR=/sbin")
			if _, err := os.Stat(filepath.Join(dest, "sbin/iblock")); err != nil {
				t.Errorf("install with BINDIR: %v", err)
			}
			mustRun("clean")
			if _, err := os.Stat(filepath.Join(src, "iblock")); !os.IsNotExist(err) {
				t.Error("make clean left iblock")
			}
			if out := mustRun("demo"); !strings.Contains(out, "blocking 127.0.0.1") {
				t.Errorf("make demo:\n%s", out)
			}

			fk := newFakeDir(t)
			goFake := "GO=" + fk.path("go")
			mustRun("test", goFake)
			wantGoCalls(t, fk, "make test", makeTestCalls())
			mustRun("fuzz", goFake, "FUZZTIME=3s")
			wantGoCalls(t, fk, "make fuzz", fuzzCalls("3s"))
			mustRun("bench", goFake)
			if calls := goCalls(t, fk); len(calls) != 1 || !strings.Contains(calls[0], " -bench PerConnection ") {
				t.Errorf("make bench ran %q", calls)
			}
			fk.setMode(t, "vet-fails")
			if out, err := run("test", goFake); err == nil {
				t.Errorf("make test passed although go vet failed for netbsd:\n%s", out)
			}
			for _, call := range goCalls(t, fk) {
				if strings.HasPrefix(call, "test ") {
					t.Errorf("make test ran %q after go vet failed", call)
				}
			}
			mustRun("bench-sets", goFake)
			if calls := goCalls(t, fk); len(calls) != 1 || !strings.Contains(calls[0], " -run ^TestBanCostBySetSize$") {
				t.Errorf("make bench-sets ran %q", calls)
			}
		})
	}
}

// withoutGoTarget leaves out of env what would change what make test
// runs for: GOOS, GOARCH, CGO_ENABLED.
func withoutGoTarget(env []string) []string {
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name != "GOOS" && name != "GOARCH" && name != "CGO_ENABLED" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// fuzzTargets are the fuzz targets make test and make fuzz run.
var fuzzTargets = []string{"FuzzTableName", "FuzzAllowlist", "FuzzFlagsToArgv"}

// makeTestCalls is what make test must run: vet, then vet and a build for
// each system, then the tests, then each fuzz target for 5 s.
func makeTestCalls() []string {
	calls := []string{"vet ./..."}
	for _, goos := range []string{"openbsd", "freebsd", "netbsd", "linux"} {
		for _, arch := range []string{"amd64", "arm64"} {
			env := "GOOS=" + goos + " GOARCH=" + arch + " CGO_ENABLED=0 "
			calls = append(calls, env+"vet .", env+"build -trimpath -ldflags -s -w -o /dev/null .")
		}
	}
	return append(append(calls, "test -count=1"), fuzzCalls("5s")...)
}

func fuzzCalls(fuzztime string) []string {
	var calls []string
	for _, f := range fuzzTargets {
		calls = append(calls, "test -run ^$ -fuzz ^"+f+"$ -fuzztime "+fuzztime+" .")
	}
	return calls
}

// goCalls returns the calls of the stand-in go, each as its GOOS, GOARCH
// and CGO_ENABLED, if set, and its arguments.
func goCalls(t *testing.T, fk *fakeDir) []string {
	t.Helper()
	calls, err := fk.readCalls()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls {
		var env []string
		for _, name := range []string{"GOOS", "GOARCH", "CGO_ENABLED"} {
			for _, kv := range c.Env {
				if strings.HasPrefix(kv, name+"=") {
					env = append(env, kv)
				}
			}
		}
		got = append(got, strings.Join(append(env, c.Argv[1:]...), " "))
	}
	return got
}

func wantGoCalls(t *testing.T, fk *fakeDir, what string, want []string) {
	t.Helper()
	if got := goCalls(t, fk); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s ran go:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
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
