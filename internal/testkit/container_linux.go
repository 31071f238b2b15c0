package testkit

// A Debian system booted for real: systemd as PID 1 under systemd-nspawn,
// in the server namespace of a Net, on a root file system built once
// with mmdebstrap and cached outside the source tree. Each test boots a
// copy (an overlay) of it, so every run starts from a clean system, and
// keeps that copy across the reboots it makes.
//
// The machine running the tests need not run systemd itself: nspawn then
// gets --register=no --keep-unit and a cgroup of its own, which a small
// launcher (this test binary, see init) joins before it becomes nspawn.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The packages of the booted system, besides Debian's minimal base:
// ipset and iptables for the kernel-side ipset setup.
var containerPackages = []string{"dbus", "iproute2", "ipset", "iptables", "nftables", "systemd", "systemd-sysv"}

// Image is what a cached root file system holds: packages besides
// Debian's minimal base, and mmdebstrap hooks that prepare their install.
type Image struct {
	Packages []string
	Hooks    []string // mmdebstrap options, each one argument
}

// PlainImage is the booted system of the Linux setup's tests.
var PlainImage = Image{Packages: containerPackages}

const (
	containerSuite = "bookworm"
	rootfsCache    = "/var/cache/iblock-test"
	// cgroupsEnv tells this test binary, started as the launcher, which
	// cgroups to join before it executes nspawn.
	cgroupsEnv = "IBLOCK_NSPAWN_CGROUPS"
	// containerPath is the PATH of commands run in the container.
	containerPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// sigShutdown asks systemd as PID 1 for a clean poweroff (SIGRTMIN+3).
const sigShutdown = syscall.Signal(34 + 3)

var staleCgroups = regexp.MustCompile(`^iblock-nspawn-(\d+)-\d+$`)

// init turns this test binary into nspawn's launcher when cgroupsEnv is
// set: it moves itself into those cgroups, then executes its arguments.
// Without systemd on the host nobody else would give nspawn a cgroup.
func init() {
	dirs := os.Getenv(cgroupsEnv)
	if dirs == "" {
		return
	}
	for _, dir := range strings.Split(dirs, ":") {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			os.Exit(1)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, cgroupsEnv+"=") })
	err := unix.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "launcher:", err)
	os.Exit(1)
}

// hostSources is the host's apt source list for Debian: the booted system
// comes from the same mirror and suite as the host's packages.
func hostSources(t *testing.T) string {
	t.Helper()
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), containerSuite) {
			return f
		}
	}
	SkipOrFail(t, "the host has no apt source for Debian "+containerSuite)
	return ""
}

// cachedRootfs returns the root file system of image, built with
// mmdebstrap when the cache holds none for its packages and hooks.
func cachedRootfs(t *testing.T, image Image) string {
	t.Helper()
	mmdebstrap := NeedTool(t, "mmdebstrap")
	sources := hostSources(t)
	text, err := os.ReadFile(sources)
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(containerSuite + "\n" + strings.Join(image.Packages, ",") + "\n" +
		strings.Join(image.Hooks, "\n") + "\n" + string(text)))
	dir := filepath.Join(rootfsCache, "rootfs-"+hex.EncodeToString(key[:6]))
	// Every system, with systemd or without, has dpkg's database.
	if _, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/status")); err == nil {
		return dir
	}
	if err := os.MkdirAll(rootfsCache, 0o755); err != nil {
		t.Fatal(err)
	}
	// Built beside its final name and renamed: a build that fails or is
	// cut short never looks like a cached system.
	tmp := fmt.Sprintf("%s.build-%d", dir, os.Getpid())
	defer os.RemoveAll(tmp)
	start := time.Now()
	args := append([]string{"--quiet", "--variant=minbase", "--include=" + strings.Join(image.Packages, ",")}, image.Hooks...)
	cmd := exec.Command(mmdebstrap, append(args, containerSuite, tmp, sources)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}
	Report(t, "built the container's root file system in %v: %d MB", time.Since(start).Round(time.Second), treeSize(tmp)>>20)
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		t.Fatal(err)
	}
	return dir
}

// treeSize returns the bytes of the regular files under dir.
func treeSize(dir string) int64 {
	var size int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// OverlayRoot mounts a writable overlay of the cached system for this test
// and returns its root. It is unmounted and removed when the test ends.
func OverlayRoot(t *testing.T) string {
	t.Helper()
	return OverlayOf(t, PlainImage)
}

// OverlayOf is OverlayRoot for a system with other packages.
func OverlayOf(t *testing.T, image Image) string {
	t.Helper()
	return Overlay(t, cachedRootfs(t, image))
}

// Overlay mounts a writable overlay of the directory lower, which stays as
// it is, and returns it. It is unmounted and removed when the test ends.
func Overlay(t *testing.T, lower string) string {
	t.Helper()
	dir := t.TempDir()
	upper, work, root := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay on %s: %v", root, err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	return root
}

// Container is one booted system.
type Container struct {
	T       *testing.T
	name    string
	Root    string
	net     *Net
	nspawn  *exec.Cmd
	pid1    int
	exited  chan struct{}
	console lockedBuffer
	// consoleShown: a failed test shows the console once.
	consoleShown bool
	cgroups      []string
	// footprint is what nspawn makes on the host for this container and
	// does not remove when it exits (see Footprint).
	footprint []string
}

// lockedBuffer collects nspawn's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// containerName returns a machine name unique to this test process.
func containerName() string {
	return fmt.Sprintf("iblock-nspawn-%d-%d", os.Getpid(), Seq())
}

// cgroupRoots are the hierarchies nspawn needs a cgroup in: the named
// systemd one and the unified one of a hybrid host, or the unified root.
func cgroupRoots() []string {
	var roots []string
	for _, r := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(r, "cgroup.procs")); err == nil {
			roots = append(roots, r)
		}
	}
	if len(roots) == 0 {
		roots = []string{"/sys/fs/cgroup"}
	}
	return roots
}

// removeCgroup removes a cgroup and those nspawn made below it, deepest
// first, once their processes are gone.
func removeCgroup(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var err error
	Eventually(5*time.Second, func() bool {
		err = nil
		for _, d := range slices.Backward(dirs) {
			if rerr := unix.Rmdir(d); rerr != nil && !errors.Is(rerr, unix.ENOENT) {
				err = fmt.Errorf("rmdir %s: %w", d, rerr)
			}
		}
		return err == nil
	})
	return err
}

// removeStaleCgroups kills what is left of containers that test processes
// which no longer run had booted, and removes their cgroups.
func removeStaleCgroups() {
	for _, root := range cgroupRoots() {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			m := staleCgroups.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			if _, err := os.Stat("/proc/" + m[1]); !os.IsNotExist(err) {
				continue
			}
			dir := filepath.Join(root, e.Name())
			killCgroup(dir)
			removeCgroup(dir)
		}
	}
}

// killCgroup sends SIGKILL to every process in a cgroup and those below.
func killCgroup(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		return nil
	})
}

var staleCgroupsRemoved sync.Once

// Boot boots the system in root, in the server namespace of n, with
// nspawn's options and nspawnArgs, and returns once systemd says it is
// running. It reports the boot time.
func Boot(t *testing.T, n *Net, root string, nspawnArgs ...string) *Container {
	t.Helper()
	NeedTool(t, "nsenter")
	c := newContainer(t, root)
	c.net = n
	start := time.Now()
	c.nspawn = c.command(append([]string{"--boot", "--link-journal=no", "--console=read-only",
		// Without bpf(2), systemd in the container cannot enforce
		// DevicePolicy= and IPAddressDeny=, and says nothing.
		"--system-call-filter=bpf",
		// The network namespace is the container's own: its firewall is
		// the container's to change, as a machine's is.
		"--network-namespace-path=/run/netns/" + n.Server, "--capability=CAP_NET_ADMIN"}, nspawnArgs...)...)
	c.nspawn.Stdout, c.nspawn.Stderr = &c.console, &c.console
	if err := c.nspawn.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.nspawn.Wait(); close(c.exited) }()
	c.waitPID1()
	c.waitRunning()
	Report(t, "booted systemd in %v", time.Since(start).Round(10*time.Millisecond))
	return c
}

// Nspawn returns the command that runs systemd-nspawn, with nspawnArgs
// and the command line they end with, in the system in root, without
// booting it: in cgroups of its own, as Boot does. When the test ends,
// what is left of it is killed and removed.
func Nspawn(t *testing.T, root string, nspawnArgs ...string) *exec.Cmd {
	t.Helper()
	return newContainer(t, root).command(nspawnArgs...)
}

// newContainer names a container of the system in root and makes its
// cgroups; it is removed when the test ends.
func newContainer(t *testing.T, root string) *Container {
	t.Helper()
	NeedTool(t, "systemd-nspawn")
	staleCgroupsRemoved.Do(func() { removeStaleCgroups(); removeStalePropagation(); removeStaleLocks() })
	c := &Container{T: t, name: containerName(), Root: root, exited: make(chan struct{})}
	for _, r := range cgroupRoots() {
		dir := filepath.Join(r, c.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.cgroups = append(c.cgroups, dir)
	}
	t.Cleanup(c.Remove)
	var err error
	if c.footprint, err = nspawnFootprint(c.name, root); err != nil {
		t.Fatal(err)
	}
	return c
}

// command returns nspawn with nspawnArgs for c, started by the launcher
// (this test binary, see init) in c's cgroups.
func (c *Container) command(nspawnArgs ...string) *exec.Cmd {
	c.T.Helper()
	exe, err := os.Executable()
	if err != nil {
		c.T.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{NeedTool(c.T, "systemd-nspawn"), "--quiet", "--directory=" + c.Root,
		"--machine=" + c.name, "--register=no", "--keep-unit"}, nspawnArgs...)...)
	cmd.Env = append(os.Environ(), cgroupsEnv+"="+strings.Join(c.cgroups, ":"), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	// No Pdeathsig: Go ends threads that a goroutine left locked (as
	// InNamespace does), and the signal would then kill nspawn while the
	// test runs. A test process killed midway leaves the container to
	// the next run's removeStaleCgroups.
	return cmd
}

// waitPID1 finds the container's PID 1: nspawn's child, once it is systemd.
func (c *Container) waitPID1() {
	c.T.Helper()
	WaitUntil(c.T, 30*time.Second, "no systemd started under nspawn:\n"+c.console.String(), func() bool {
		select {
		case <-c.exited:
			c.T.Fatalf("nspawn exited: %v\n%s", c.nspawn.ProcessState, c.console.String())
		default:
		}
		c.pid1 = 0
		for _, p := range processes(func(exe string) bool { return strings.HasSuffix(exe, "/systemd") }) {
			if p.parent == c.nspawn.Process.Pid {
				c.pid1 = p.pid
			}
		}
		return c.pid1 != 0
	})
}

// waitRunning waits until systemd has finished starting the system, and
// fails the test unless every unit started.
func (c *Container) waitRunning() {
	c.T.Helper()
	var state string
	WaitUntil(c.T, 60*time.Second, "systemd did not finish booting", func() bool {
		out, _ := c.Run("systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded" || state == "maintenance"
	})
	// systemd says so once, on the console, when it cannot attach the BPF
	// programs of IPAddressDeny= and DevicePolicy=, and runs units
	// without them.
	if strings.Contains(c.console.String(), "does not support BPF") {
		c.T.Fatal("systemd runs without BPF firewalling: IPAddressDeny= would not be enforced")
	}
	if state != "running" {
		failed, _ := c.Run("systemctl", "list-units", "--all", "--state=failed", "--no-legend", "--plain")
		args := []string{"journalctl", "--no-pager", "-b", "-n", "60", "-u", "nftables.service"}
		for _, line := range strings.Split(failed, "\n") {
			if fields := strings.Fields(line); len(fields) > 0 {
				args = append(args, "-u", fields[0])
			}
		}
		log, _ := c.Run(args...)
		c.T.Fatalf("the system is %s; failed units:\n%s\nwarnings:\n%s", state, failed, log)
	}
}

// Command returns a command that runs inside the container, in all its
// namespaces, with a fixed environment.
func (c *Container) Command(argv ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(c.pid1), "-a", "--"}, argv...)...)
	cmd.Env = []string{containerPath, "LANG=C.UTF-8"}
	return cmd
}

// Run runs a command inside the container and returns its output.
func (c *Container) Run(argv ...string) (string, error) { return Combined(c.Command(argv...)) }

func (c *Container) MustRun(argv ...string) string {
	c.T.Helper()
	return MustCombined(c.T, c.Command(argv...))
}

// Poweroff shuts the system down cleanly, as systemctl poweroff does, and
// returns how long it took.
func (c *Container) Poweroff() time.Duration {
	c.T.Helper()
	start := time.Now()
	unix.Kill(c.pid1, sigShutdown)
	c.waitExited("a clean shutdown")
	return time.Since(start)
}

// PowerCut kills the system at once: no unit is stopped, nothing saved.
func (c *Container) PowerCut() {
	c.T.Helper()
	unix.Kill(c.pid1, unix.SIGKILL)
	c.waitExited("a power cut")
}

func (c *Container) waitExited(what string) {
	c.T.Helper()
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		c.T.Fatalf("nspawn still runs 60 s after %s", what)
	}
	c.Remove()
}

// Remove kills whatever is left of the container and removes its cgroups.
func (c *Container) Remove() {
	for _, dir := range c.cgroups {
		killCgroup(dir)
	}
	if c.nspawn != nil && c.nspawn.Process != nil {
		<-c.exited
	}
	for _, dir := range c.cgroups {
		if err := removeCgroup(dir); err != nil {
			c.T.Errorf("container %s: %v", c.name, err)
		}
	}
	c.cgroups = nil
	for _, p := range c.footprint {
		if err := os.RemoveAll(p); err != nil {
			c.T.Errorf("container %s: %v", c.name, err)
		}
	}
	if left := c.Footprint(); len(left) > 0 {
		c.T.Errorf("container %s left on the host: %q", c.name, left)
	}
	if c.T.Failed() && !c.consoleShown && c.nspawn != nil {
		c.consoleShown = true
		c.T.Logf("console of %s:\n%s", c.name, c.console.String())
	}
}

// nspawnDir is where systemd-nspawn keeps its state on the host.
const nspawnDir = "/run/systemd/nspawn"

// nspawnFootprint returns what nspawn makes on the host for a machine
// booted from the directory root and leaves when it exits: the directory
// through which it propagates mounts into the machine, named after the
// machine, and the lock of the root directory, named after its device
// and inode.
func nspawnFootprint(machine, root string) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return nil, err
	}
	return []string{
		filepath.Join(nspawnDir, "propagate", machine),
		filepath.Join(nspawnDir, "locks", fmt.Sprintf("inode-%d:%d", st.Dev, st.Ino)),
	}, nil
}

// Footprint returns what nspawn made on the host for this container and
// is still there: while it runs, its mount propagation directory and
// the lock of its root directory; once Remove has run, nothing.
func (c *Container) Footprint() []string {
	var there []string
	for _, p := range c.footprint {
		if _, err := os.Lstat(p); err == nil {
			there = append(there, p)
		}
	}
	return there
}

// removeStalePropagation removes the mount propagation directories of
// containers that test processes which no longer run had booted.
func removeStalePropagation() {
	entries, _ := os.ReadDir(filepath.Join(nspawnDir, "propagate"))
	for _, e := range entries {
		m := staleCgroups.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); os.IsNotExist(err) {
			os.RemoveAll(filepath.Join(nspawnDir, "propagate", e.Name()))
		}
	}
}

// removeStaleLocks removes the lock files in nspawn's locks directory
// that no process holds: those of machines killed before their tests
// removed them. systemd locks such a file after it opens it and opens it
// again if it was removed meanwhile, so that removing one nobody holds
// is safe.
func removeStaleLocks() {
	held := map[string]bool{}
	data, _ := os.ReadFile("/proc/locks")
	for _, line := range strings.Split(string(data), "\n") {
		// "1: FLOCK  ADVISORY  WRITE 1234 00:1a:9977875 0 EOF"
		for _, f := range strings.Fields(line) {
			if strings.Count(f, ":") == 2 {
				held[f] = true
			}
		}
	}
	dir := filepath.Join(nspawnDir, "locks")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		var st unix.Stat_t
		path := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), "inode-") || unix.Stat(path, &st) != nil {
			continue
		}
		key := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
		if !held[key] {
			os.Remove(path)
		}
	}
}

// Cgroups returns the host's cgroups of the container, one a hierarchy;
// systemd in the container puts its units below them, under "payload".
func (c *Container) Cgroups() []string { return c.cgroups }
