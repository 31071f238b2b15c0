package fresh

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// TestMain builds iblock once (unused here: the machines build their
// own) and runs the test from the module's root (see testkit.Main).
func TestMain(m *testing.M) { testkit.Main(m) }

// machine is a fresh Debian system as a newcomer may have one: Debian's
// minimal base, make, and the packages named.
type machine struct {
	name     string
	packages []string
	// user runs the commands as an unprivileged user instead of root.
	user bool
	// ownNetwork gives the machine a network namespace of its own, and
	// with it the CAP_NET_ADMIN that nftables needs. The others share the
	// host's, as a container without a network of its own does: there
	// /proc/sys is read-only and CAP_NET_ADMIN is withheld.
	ownNetwork bool
}

// The machines, the user's first: it compiles everything itself and
// takes longest. Their names become paths, where overlayfs takes no comma.
var machines = []machine{
	{name: "make only as a user", packages: []string{"make"}, user: true},
	{name: "make and systemd", packages: []string{"make", "systemd"}},
	{name: "make only", packages: []string{"make"}},
	{name: "make and systemd and nftables", packages: []string{"make", "systemd", "nftables"}, ownNetwork: true},
	// The tools of the tests that run outside network namespaces, and
	// those of the namespaces, which root cannot use there.
	{name: "make and many tools", packages: []string{"make", "bmake", "mandoc", "strace", "time", "systemd",
		"iproute2", "nftables", "ipset", "iptables", "openbsd-inetd"}},
}

const (
	// user is the unprivileged user of the machines that have one.
	user, userID = "newcomer", 1000
	// modCache is where the host's Go module cache is bound, read-only.
	modCache = "/var/cache/go-mod"
	// buildCache is where root's machines find a copy (an overlay) of the
	// host's Go build cache: they compile only what the host has not
	// (little, after make test's builds for every system), which saves
	// minutes of a busy machine and changes nothing else. The user
	// compiles everything, in a cache of their own, as a newcomer does.
	buildCache = "/var/cache/go-build"
	// The time make demo and make test may take on a machine, at most.
	// Both within make test's limit of 30 minutes for the whole package.
	demoTime = 5 * time.Minute
	testTime = 20 * time.Minute
)

// TestReadmeCommandsPassOnFreshMachines runs, side by side on every
// machine, the README's make demo and make test in a copy of the source:
// both exit 0, and the demo shows the scanner banned.
func TestReadmeCommandsPassOnFreshMachines(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedTool(t, "systemd-nspawn")
	testkit.NeedTool(t, "mmdebstrap")
	for _, m := range machines {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			m.readmeCommands(t)
		})
	}
}

// readmeCommands runs make demo, then make test, on a new copy of m.
func (m machine) readmeCommands(t *testing.T) {
	sys := m.newSystem(t)
	if env := sys.run(t, time.Minute, "env"); strings.Contains(env, "IBLOCK_") {
		t.Fatalf("the machine's environment is not a newcomer's:\n%s", env)
	}
	start := time.Now()
	demo := sys.run(t, demoTime, "make", "demo")
	demoTook := time.Since(start)
	if !regexp.MustCompile(`(?m)iblock\[\d+\]: blocking 127\.0\.0\.1$`).MatchString(demo) ||
		!regexp.MustCompile(`-T show:\n +127\.0\.0\.1\n`).MatchString(demo) {
		t.Errorf("make demo did not show the scanner banned:\n%s", demo)
	}
	start = time.Now()
	sys.run(t, testTime, "make", "test")
	testkit.Report(t, "make demo took %v, make test %v", demoTook.Round(time.Second), time.Since(start).Round(time.Second))
}

// images serialises the builds of one image: machines that share an
// image must not build it at once.
var images sync.Map // packages → *sync.Mutex

// system is a copy of a machine's system, and of the host's Go build
// cache for root's machines.
type system struct {
	machine
	root, goCache string
}

// newSystem returns a new copy of m's system, with the source tree in the
// home directory of the user who runs the commands.
func (m machine) newSystem(t *testing.T) *system {
	t.Helper()
	mu, _ := images.LoadOrStore(strings.Join(m.packages, ","), new(sync.Mutex))
	root := func() string {
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock() // also when the build fails the test
		return testkit.OverlayOf(t, testkit.Image{Packages: m.packages})
	}()
	if m.user {
		addUser(t, root)
	}
	copyTree(t, filepath.Join(root, m.home(), "iblock"), m.uid())
	sys := &system{machine: m, root: root}
	if !m.user {
		sys.goCache = testkit.Overlay(t, goEnv(t, "GOCACHE"))
	}
	return sys
}

func (m machine) home() string {
	if m.user {
		return "/home/" + user
	}
	return "/root"
}

func (m machine) uid() int {
	if m.user {
		return userID
	}
	return 0
}

// addUser adds the unprivileged user to the system in root, with a home
// directory of its own.
func addUser(t *testing.T, root string) {
	t.Helper()
	id := strconv.Itoa(userID)
	for file, line := range map[string]string{
		"etc/passwd": user + ":x:" + id + ":" + id + "::/home/" + user + ":/bin/sh\n",
		"etc/group":  user + ":x:" + id + ":\n",
	} {
		f, err := os.OpenFile(filepath.Join(root, file), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(root, "home", user)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, userID, userID); err != nil {
		t.Fatal(err)
	}
}

// run runs argv in the source tree on the system, bounded by limit, and
// returns what it printed; it fails the test unless argv exits 0.
func (sys *system) run(t *testing.T, limit time.Duration, argv ...string) string {
	t.Helper()
	goroot := runtime.GOROOT()
	// nspawn gives the commands inside only the variables set here: no
	// IBLOCK_E2E, as on a newcomer's machine.
	args := []string{"--console=pipe",
		// Go as the host has it, and iblock's modules offline: nothing
		// is downloaded.
		"--bind-ro=" + goroot, "--bind-ro=" + goEnv(t, "GOMODCACHE") + ":" + modCache,
		"--setenv=PATH=" + goroot + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--setenv=GOMODCACHE=" + modCache, "--setenv=GOFLAGS=-mod=mod", "--setenv=GOPROXY=off",
		"--chdir=" + sys.home() + "/iblock"}
	if sys.user {
		args = append(args, "--user="+user)
	} else {
		args = append(args, "--bind="+sys.goCache+":"+buildCache, "--setenv=GOCACHE="+buildCache)
	}
	if sys.ownNetwork {
		args = append(args, "--private-network")
	}
	cmd := testkit.Nspawn(t, sys.root, append(args, argv...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM: nspawn then kills everything in the machine. The test's
	// end kills what is left.
	var timedOut atomic.Bool
	timer := time.AfterFunc(limit, func() {
		timedOut.Store(true)
		cmd.Process.Signal(syscall.SIGTERM)
	})
	err := cmd.Wait()
	timer.Stop()
	if timedOut.Load() {
		t.Fatalf("%s still ran after %v:\n%s", strings.Join(argv, " "), limit, failures(out.String()))
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, failures(out.String()))
	}
	return out.String()
}

// goEnv returns one of the host's go env variables.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// failures returns the lines of go test's output that say what failed, and
// the output's last lines.
func failures(out string) string {
	var b strings.Builder
	lines := strings.Split(out, "\n")
	inFailure, last := false, -1
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "panic:"):
			inFailure = true
		case inFailure && strings.HasPrefix(line, " "):
		default:
			inFailure = false
		}
		if inFailure {
			b.WriteString(line + "\n")
			last = i
		}
	}
	b.WriteString("...\n" + strings.Join(lines[max(last+1, len(lines)-30):], "\n"))
	return b.String()
}

// copyTree copies the source tree, as a clone of it holds it (without
// .git and what .gitignore names), into dir, owned by uid.
func copyTree(t *testing.T, dir string, uid int) {
	t.Helper()
	src, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{".git": true}
	if f, err := os.Open(filepath.Join(src, ".gitignore")); err == nil {
		for s := bufio.NewScanner(f); s.Scan(); {
			if name := strings.TrimPrefix(strings.TrimSpace(s.Text()), "/"); name != "" && !strings.HasPrefix(name, "#") {
				skip[name] = true
			}
		}
		f.Close()
	}
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if skip[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			err = os.MkdirAll(to, info.Mode().Perm())
		case info.Mode().IsRegular():
			var data []byte
			if data, err = os.ReadFile(path); err == nil {
				err = os.WriteFile(to, data, info.Mode().Perm())
			}
		default:
			return nil
		}
		if err == nil {
			err = os.Chown(to, uid, uid)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
