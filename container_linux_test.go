package main

// A Debian system booted for real: systemd as PID 1 under systemd-nspawn,
// in the server namespace of a testNet, on a root file system built once
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

var (
	containerSeq  sync.Mutex
	containerNext int
	staleCgroups  = regexp.MustCompile(`^iblock-nspawn-(\d+)-\d+$`)
)

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
	skipOrFail(t, "the host has no apt source for Debian "+containerSuite)
	return ""
}

// cachedRootfs returns the root file system of the booted system, built
// with mmdebstrap when the cache holds none for this package list.
func cachedRootfs(t *testing.T) string {
	t.Helper()
	mmdebstrap := needTool(t, "mmdebstrap")
	sources := hostSources(t)
	text, err := os.ReadFile(sources)
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(containerSuite + "\n" + strings.Join(containerPackages, ",") + "\n" + string(text)))
	dir := filepath.Join(rootfsCache, "rootfs-"+hex.EncodeToString(key[:6]))
	if _, err := os.Stat(filepath.Join(dir, "usr/lib/systemd/systemd")); err == nil {
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
	cmd := exec.Command(mmdebstrap, "--quiet", "--variant=minbase",
		"--include="+strings.Join(containerPackages, ","), containerSuite, tmp, sources)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}
	report(t, "built the container's root file system in %v: %d MB", time.Since(start).Round(time.Second), treeSize(tmp)>>20)
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

// overlayRoot mounts a writable overlay of the cached system for this test
// and returns its root. It is unmounted and removed when the test ends.
func overlayRoot(t *testing.T) string {
	t.Helper()
	lower := cachedRootfs(t)
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

// container is one booted system.
type container struct {
	t       *testing.T
	name    string
	root    string
	net     *testNet
	nspawn  *exec.Cmd
	pid1    int
	exited  chan struct{}
	console lockedBuffer
	// consoleShown: a failed test shows the console once.
	consoleShown bool
	cgroups      []string
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
	containerSeq.Lock()
	defer containerSeq.Unlock()
	containerNext++
	return fmt.Sprintf("iblock-nspawn-%d-%d", os.Getpid(), containerNext)
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
	eventually(5*time.Second, func() bool {
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

// bootContainer boots the system in root, in the server namespace of n,
// and returns once systemd says it is running. It reports the boot time.
func bootContainer(t *testing.T, n *testNet, root string) *container {
	t.Helper()
	nspawn := needTool(t, "systemd-nspawn")
	needTool(t, "nsenter")
	staleCgroupsRemoved.Do(removeStaleCgroups)
	c := &container{t: t, name: containerName(), root: root, net: n, exited: make(chan struct{})}
	for _, r := range cgroupRoots() {
		dir := filepath.Join(r, c.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.cgroups = append(c.cgroups, dir)
	}
	t.Cleanup(c.remove)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.nspawn = exec.Command(exe, nspawn, "--quiet", "--boot", "--directory="+root, "--machine="+c.name,
		"--register=no", "--keep-unit", "--link-journal=no", "--console=read-only",
		// Without bpf(2), systemd in the container cannot enforce
		// DevicePolicy= and IPAddressDeny=, and says nothing.
		"--system-call-filter=bpf",
		// The network namespace is the container's own: its firewall is
		// the container's to change, as a machine's is.
		"--network-namespace-path=/run/netns/"+n.server, "--capability=CAP_NET_ADMIN")
	c.nspawn.Env = append(os.Environ(), cgroupsEnv+"="+strings.Join(c.cgroups, ":"),
		"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	c.nspawn.Stdout, c.nspawn.Stderr = &c.console, &c.console
	// No Pdeathsig: Go ends threads that a goroutine left locked (as
	// inNamespace does), and the signal would then kill nspawn while the
	// test runs. A test process killed midway leaves the container to
	// the next run's removeStaleCgroups.
	if err := c.nspawn.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.nspawn.Wait(); close(c.exited) }()
	c.waitPID1()
	c.waitRunning()
	report(t, "booted systemd in %v", time.Since(start).Round(10*time.Millisecond))
	return c
}

// waitPID1 finds the container's PID 1: nspawn's child, once it is systemd.
func (c *container) waitPID1() {
	c.t.Helper()
	waitUntil(c.t, 30*time.Second, "no systemd started under nspawn:\n"+c.console.String(), func() bool {
		select {
		case <-c.exited:
			c.t.Fatalf("nspawn exited: %v\n%s", c.nspawn.ProcessState, c.console.String())
		default:
		}
		c.pid1 = childRunning(c.nspawn.Process.Pid, "/systemd")
		return c.pid1 != 0
	})
}

// childRunning returns the pid of a child of parent whose executable's
// path ends in suffix, or 0.
func childRunning(parent int, suffix string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces: the fields
		// that follow it are state, then the parent's pid.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && strings.HasSuffix(exe, suffix) {
			return pid
		}
	}
	return 0
}

// waitRunning waits until systemd has finished starting the system, and
// fails the test unless every unit started.
func (c *container) waitRunning() {
	c.t.Helper()
	var state string
	waitUntil(c.t, 60*time.Second, "systemd did not finish booting", func() bool {
		out, _ := c.run("systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded" || state == "maintenance"
	})
	// systemd says so once, on the console, when it cannot attach the BPF
	// programs of IPAddressDeny= and DevicePolicy=, and runs units
	// without them.
	if strings.Contains(c.console.String(), "does not support BPF") {
		c.t.Fatal("systemd runs without BPF firewalling: IPAddressDeny= would not be enforced")
	}
	if state != "running" {
		failed, _ := c.run("systemctl", "list-units", "--all", "--state=failed", "--no-legend")
		log, _ := c.run("journalctl", "--no-pager", "-b", "-u", "nftables.service")
		c.t.Fatalf("the system is %s; failed units:\n%s\nwarnings:\n%s", state, failed, log)
	}
}

// command returns a command that runs inside the container, in all its
// namespaces, with a fixed environment.
func (c *container) command(argv ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(c.pid1), "-a", "--"}, argv...)...)
	cmd.Env = []string{containerPath, "LANG=C.UTF-8"}
	return cmd
}

// run runs a command inside the container and returns its output.
func (c *container) run(argv ...string) (string, error) { return combined(c.command(argv...)) }

func (c *container) mustRun(argv ...string) string {
	c.t.Helper()
	return mustCombined(c.t, c.command(argv...))
}

// poweroff shuts the system down cleanly, as systemctl poweroff does, and
// returns how long it took.
func (c *container) poweroff() time.Duration {
	c.t.Helper()
	start := time.Now()
	unix.Kill(c.pid1, sigShutdown)
	c.waitExited("a clean shutdown")
	return time.Since(start)
}

// powerCut kills the system at once: no unit is stopped, nothing saved.
func (c *container) powerCut() {
	c.t.Helper()
	unix.Kill(c.pid1, unix.SIGKILL)
	c.waitExited("a power cut")
}

func (c *container) waitExited(what string) {
	c.t.Helper()
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		c.t.Fatalf("nspawn still runs 60 s after %s", what)
	}
	c.remove()
}

// remove kills whatever is left of the container and removes its cgroups.
func (c *container) remove() {
	for _, dir := range c.cgroups {
		killCgroup(dir)
	}
	if c.nspawn != nil && c.nspawn.Process != nil {
		<-c.exited
	}
	for _, dir := range c.cgroups {
		if err := removeCgroup(dir); err != nil {
			c.t.Errorf("container %s: %v", c.name, err)
		}
	}
	c.cgroups = nil
	if c.t.Failed() && !c.consoleShown {
		c.consoleShown = true
		c.t.Logf("console of %s:\n%s", c.name, c.console.String())
	}
}
