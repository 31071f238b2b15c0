package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// TestMakefileWorksUnderBSDMakeAndGNUMake runs the Makefile's targets with
// both makes in a copy of the source: all, install, clean and demo for
// real; test, fuzz and bench with GO set to a stand-in go that records
// what make runs (the real ones would run this test again).
func TestMakefileWorksUnderBSDMakeAndGNUMake(t *testing.T) {
	testkit.Slow(t)
	for _, makeName := range []string{"make", "bmake"} {
		t.Run(makeName, func(t *testing.T) {
			t.Parallel()
			mk := testkit.NeedTool(t, makeName)
			src := testkit.CopySource(t)
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

			fk := testkit.NewFakeDir(t)
			goFake := "GO=" + fk.Path("go")
			mustRun("test", goFake)
			wantGoCalls(t, fk, src, "make test", makeTestCalls())
			mustRun("fuzz", goFake, "FUZZTIME=3s")
			wantGoCalls(t, fk, src, "make fuzz", fuzzCalls("3s"))
			mustRun("bench", goFake)
			if calls := goCalls(t, fk, src); len(calls) != 1 || !strings.Contains(calls[0], " -bench PerConnection ") {
				t.Errorf("make bench ran %q", calls)
			}
			fk.SetMode(t, "vet-fails")
			if out, err := run("test", goFake); err == nil {
				t.Errorf("make test passed although go vet failed for netbsd:\n%s", out)
			}
			for _, call := range goCalls(t, fk, src) {
				if strings.HasPrefix(call, "test ") {
					t.Errorf("make test ran %q after go vet failed", call)
				}
			}
			mustRun("bench-sets", goFake)
			if calls := goCalls(t, fk, src); len(calls) != 1 || !strings.HasPrefix(calls[0], "test/netns: ") ||
				!strings.Contains(calls[0], " -run ^TestBanCostBySetSize$") {
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
// each system, then the tests of each package from its directory, one
// after the other, then each fuzz target on 100 000 inputs.
func makeTestCalls() []string {
	calls := []string{"vet ./..."}
	for _, goos := range []string{"openbsd", "freebsd", "netbsd", "linux"} {
		for _, arch := range []string{"amd64", "arm64"} {
			env := "GOOS=" + goos + " GOARCH=" + arch + " CGO_ENABLED=0 "
			calls = append(calls, env+"vet .", env+"build -trimpath -ldflags -s -w -o /dev/null .")
		}
	}
	for _, dir := range []string{"", "test/examples: ", "test/netns: ", "test/boot: ", "test/fleet: ", "test/fresh: "} {
		calls = append(calls, dir+"test -count=1")
	}
	return append(calls, fuzzCalls("100000x")...)
}

func fuzzCalls(fuzztime string) []string {
	var calls []string
	for _, f := range fuzzTargets {
		calls = append(calls, "test -run ^$ -fuzz ^"+f+"$ -fuzztime "+fuzztime+" .")
	}
	return calls
}

// goCalls returns the calls of the stand-in go, each as its directory
// below src, if not src, its GOOS, GOARCH and CGO_ENABLED, if set, and
// its arguments.
func goCalls(t *testing.T, fk *testkit.FakeDir, src string) []string {
	t.Helper()
	calls, err := fk.ReadCalls()
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
		call := strings.Join(append(env, c.Argv[1:]...), " ")
		if dir, _ := filepath.Rel(src, c.Dir); dir != "." {
			call = dir + ": " + call
		}
		got = append(got, call)
	}
	return got
}

func wantGoCalls(t *testing.T, fk *testkit.FakeDir, src, what string, want []string) {
	t.Helper()
	if got := goCalls(t, fk, src); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s ran go:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
