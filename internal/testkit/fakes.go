package testkit

// Stand-ins for doas, pfctl, npfctl, nft, ipset and go: this test binary,
// run under their names through symbolic links in a directory of their own.
// Each appends its argv, its environment and what it was given as stdin,
// stdout and stderr to the file "record" beside it, and answers as the real
// program does. They find that directory from their own argv[0], not from
// the environment, since iblock gives the programs it runs an environment
// of its own. The file "mode" beside them makes them misbehave.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunFakeIfNamed makes the test binary act as a fake and exit when it
// was started under a fake's name (argv[0]); otherwise it returns. Every
// TestMain that hands a FakeDir's programs to iblock calls it first.
func RunFakeIfNamed() {
	if fake, ok := fakes[filepath.Base(os.Args[0])]; ok {
		os.Exit(fake(os.Args[1:]))
	}
}

var fakes = map[string]func(args []string) int{
	"doas":   fakeDoas,
	"pfctl":  fakePfctl,
	"npfctl": fakeNpfctl,
	"nft":    fakeNft,
	"ipset":  fakeIpset,
	"go":     fakeGo,
	Forge:    forgeDatagrams,
}

// fakeCall is one run of a fake, as recorded.
type fakeCall struct {
	Pid          int
	Argv         []string
	Env          []string
	Dir          string // the working directory
	StdinDevNull bool   // fd 0 is /dev/null
	OutputPipe   bool   // fds 1 and 2 are one pipe
	SocketFds    []int
}

// FakeDir holds the fakes of one test and what they record.
type FakeDir struct {
	Dir, State string
	record     string
	ExtraFiles []*os.File // given to iblock as fds 3 and up
}

func NewFakeDir(t *testing.T) *FakeDir {
	t.Helper()
	fk, err := MakeFakeDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return fk
}

// MakeFakeDir puts the fakes in dir.
func MakeFakeDir(dir string) (*FakeDir, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fk := &FakeDir{Dir: dir, record: filepath.Join(dir, "record"), State: filepath.Join(dir, "state")}
	if err := os.Mkdir(fk.State, 0o755); err != nil {
		return nil, err
	}
	for name := range fakes {
		if err := os.Symlink(exe, fk.Path(name)); err != nil {
			return nil, err
		}
	}
	return fk, nil
}

func (fk *FakeDir) Path(name string) string { return filepath.Join(fk.Dir, name) }

// SetMode makes the fakes misbehave as the comma-separated words of mode
// say: "hang", "flood", "orphan", "add-fails", "show-fails", "doas-deny",
// "overlap", "overlap-always", "set-full", "set-missing", "vet-fails"
// (see the fakes below).
func (fk *FakeDir) SetMode(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(fk.Path("mode"), []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Env is what iblock inherits in the tests: variables that must not reach
// the programs it runs, and a PATH that leads nowhere, so that a PATH
// lookup would fail. LD_PRELOAD is empty, so that the dynamic loader of
// the programs that start iblock (inetd, strace) ignores it.
func (fk *FakeDir) Env() []string {
	return []string{
		"PATH=" + fk.Path("no-such-dir"),
		"LD_PRELOAD=",
		"LISTEN_FDS=1",
		"LISTEN_PID=1",
		"IFS=/",
		"IBLOCK_INHERITED=yes",
	}
}

// Calls returns what the fakes recorded, and clears it. Each call must
// have come from iblock as the contract says: /dev/null as stdin, a pipe
// as output, no socket, and the contract's environment alone.
func (fk *FakeDir) Calls(t *testing.T) []fakeCall {
	t.Helper()
	calls, err := fk.ReadCalls()
	if err != nil {
		t.Fatal(err)
	}
	env := ReadContract(t).Env
	for _, c := range calls {
		if !c.StdinDevNull || !c.OutputPipe || len(c.SocketFds) > 0 {
			t.Errorf("%s ran with stdin /dev/null %v, output a pipe %v, sockets on fds %v",
				c.Argv[0], c.StdinDevNull, c.OutputPipe, c.SocketFds)
		}
		if strings.Join(c.Env, " ") != env {
			t.Errorf("%s ran with the environment %q, want only %q", c.Argv[0], c.Env, env)
		}
	}
	return calls
}

// ReadCalls returns what the fakes recorded, and clears it.
func (fk *FakeDir) ReadCalls() ([]fakeCall, error) {
	data, err := os.ReadFile(fk.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	os.Remove(fk.record)
	var calls []fakeCall
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c fakeCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("record %q: %v", line, err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// Table returns the entries of a fake pf table.
func (fk *FakeDir) Table(t *testing.T, name string) []string {
	t.Helper()
	entries, err := readFakeTable(filepath.Join(fk.State, name))
	if err != nil {
		t.Fatal(err)
	}
	return sortedKeys(entries)
}

// fakeHome is the directory of the fakes this process is one of.
func fakeHome(name string) string { return filepath.Join(filepath.Dir(os.Args[0]), name) }

func fakeMode(m string) bool {
	mode, _ := os.ReadFile(fakeHome("mode"))
	for _, w := range strings.Split(string(mode), ",") {
		if w == m {
			return true
		}
	}
	return false
}

// recordCall appends this process's argv and stdio to the record file.
func recordCall() {
	c := fakeCall{Pid: os.Getpid(), Argv: os.Args, Env: os.Environ(), StdinDevNull: isDevNull(0), OutputPipe: samePipe(1, 2)}
	c.Dir, _ = os.Getwd()
	for fd := 0; fd < 64; fd++ {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFSOCK {
			c.SocketFds = append(c.SocketFds, fd)
		}
	}
	line, _ := json.Marshal(c)
	f, err := os.OpenFile(fakeHome("record"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}

func isDevNull(fd int) bool {
	var st, null syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && syscall.Stat("/dev/null", &null) == nil &&
		st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == null.Rdev
}

func samePipe(a, b int) bool {
	var sa, sb syscall.Stat_t
	return syscall.Fstat(a, &sa) == nil && syscall.Fstat(b, &sb) == nil &&
		sa.Mode&syscall.S_IFMT == syscall.S_IFIFO && sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

// fakeDoas checks "-n program args" and runs the program in its place, as doas does.
func fakeDoas(args []string) int {
	recordCall()
	if len(args) < 2 || args[0] != "-n" || !strings.HasPrefix(args[1], "/") {
		fmt.Fprintln(os.Stderr, "usage: doas [-Lns] [-a style] [-C config] [-u user] command [arg ...]")
		return 1
	}
	if fakeMode("doas-deny") {
		fmt.Fprintln(os.Stderr, "doas: Operation not permitted")
		return 1
	}
	err := syscall.Exec(args[1], args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "doas: "+args[1]+": "+err.Error())
	return 1
}

// fakePfctl answers -t T -T add|show|expire and -k as pfctl does. Tables are
// files of "address time-added" lines in the state directory.
func fakePfctl(args []string) int {
	if len(args) == 1 && args[0] == "--sleep" { // the child left behind by "orphan"
		time.Sleep(time.Hour)
		return 0
	}
	recordCall()
	switch {
	case fakeMode("hang"):
		time.Sleep(time.Hour)
	case fakeMode("flood"):
		flood()
		fmt.Fprintln(os.Stderr, "pfctl: flooded")
		return 1
	case fakeMode("orphan"):
		leaveOrphan()
	}
	switch {
	case len(args) == 5 && args[0] == "-t" && args[2] == "-T" && args[3] == "add":
		return pfctlAdd(args[1], args[4])
	case len(args) == 4 && args[0] == "-t" && args[2] == "-T" && args[3] == "show":
		return pfctlShow(args[1])
	case len(args) == 5 && args[0] == "-t" && args[2] == "-T" && args[3] == "expire":
		return pfctlExpire(args[1], args[4])
	case len(args) == 2 && args[0] == "-k":
		fmt.Fprintln(os.Stderr, "killed 0 states from 1 sources and 0 destinations")
		return 0
	}
	fmt.Fprintln(os.Stderr, "usage: pfctl [-deghNnPqrvz] ...")
	return 1
}

func pfctlAdd(table, addr string) int {
	if fakeMode("add-fails") {
		fmt.Fprintln(os.Stderr, "pfctl: Invalid argument.")
		return 255
	}
	added := 0
	err := updateFakeTable(table, func(entries map[string]int64) {
		if _, ok := entries[addr]; !ok {
			entries[addr] = time.Now().Unix()
			added = 1
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pfctl: "+err.Error())
		return 255
	}
	// pfctl prints the count on stderr; -v would print the address on stdout.
	fmt.Println(addr)
	fmt.Fprintf(os.Stderr, "%d/1 addresses added.\n", added)
	return 0
}

func pfctlShow(table string) int {
	if fakeMode("show-fails") {
		fmt.Fprintln(os.Stderr, "pfctl: Table does not exist.")
		return 255
	}
	entries, err := readFakeTable(filepath.Join(fakeHome("state"), table))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pfctl: Table does not exist.")
		return 255
	}
	for _, a := range sortedKeys(entries) {
		fmt.Println("   " + a)
	}
	return 0
}

func pfctlExpire(table, secs string) int {
	age, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pfctl: expiry time: "+secs+" is invalid")
		return 1
	}
	expired, total := 0, 0
	updateFakeTable(table, func(entries map[string]int64) {
		total = len(entries)
		for a, added := range entries {
			if time.Now().Unix()-added > age {
				delete(entries, a)
				expired++
			}
		}
	})
	fmt.Fprintf(os.Stderr, "%d/%d addresses expired.\n", expired, total)
	return 0
}

func readFakeTable(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var addr string
		var added int64
		if _, err := fmt.Sscan(sc.Text(), &addr, &added); err == nil {
			entries[addr] = added
		}
	}
	return entries, sc.Err()
}

func updateFakeTable(table string, change func(map[string]int64)) error {
	path := filepath.Join(fakeHome("state"), table)
	entries, err := readFakeTable(path)
	if os.IsNotExist(err) {
		entries, err = map[string]int64{}, nil // -T add creates the table
	}
	if err != nil {
		return err
	}
	change(entries)
	var b strings.Builder
	for _, a := range sortedKeys(entries) {
		fmt.Fprintf(&b, "%s %d\n", a, entries[a])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flood prints 64 MiB, far more than iblock keeps, then writes iblock's
// peak memory to the state directory. It reads it from /proc (VmHWM)
// rather than leaving it to wait4, because wait4 charges a process with
// the peak memory of the process that forked it, this test binary.
func flood() {
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for i := 0; i < 65536; i++ {
		if _, err := os.Stdout.Write(line); err != nil {
			return
		}
	}
	// The pipe holds 64 KiB at most: iblock has read all the rest by now.
	status, err := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/status")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(status), "\n") {
		if kib, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			os.WriteFile(filepath.Join(fakeHome("state"), "iblock-peak-kib"), []byte(strings.Fields(kib)[0]), 0o644)
		}
	}
}

// leaveOrphan starts a child that holds stdout and stderr open and
// sleeps, and writes its pid to the state directory.
func leaveOrphan() {
	cmd := exec.Command(os.Args[0], "--sleep")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return
	}
	os.WriteFile(filepath.Join(fakeHome("state"), "orphan.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// fakeNpfctl answers "table T add A"; an entry already there is an error, as in npfctl.
func fakeNpfctl(args []string) int {
	recordCall()
	if len(args) != 4 || args[0] != "table" || args[2] != "add" {
		fmt.Fprintln(os.Stderr, "usage: npfctl table <tid> add <address/mask>")
		return 1
	}
	exists := false
	updateFakeTable(args[1], func(entries map[string]int64) {
		_, exists = entries[args[3]]
		entries[args[3]] = time.Now().Unix()
	})
	if exists {
		fmt.Fprintln(os.Stderr, "npfctl: entry already exists or is conflicting")
		return 1
	}
	return 0
}

// fakeNft answers an add as nft does; the real nft is tested in network
// namespaces. With "overlap", it fails the way concurrent adds to an
// interval set sometimes do, twice, then succeeds; with "overlap-always",
// every time; with "set-missing", as when the set does not exist; with
// "set-full", as when it holds as many elements as its size.
func fakeNft(args []string) int {
	recordCall()
	if fakeMode("set-full") {
		fmt.Fprintln(os.Stderr, "Error: Could not process rule: Too many open files in system")
		fmt.Fprintln(os.Stderr, strings.Join(args, " "))
		return 1
	}
	if fakeMode("overlap") && countCalls() < 3 || fakeMode("overlap-always") {
		fmt.Fprintln(os.Stderr, "netlink: Error: interval overlaps with an existing one")
		return 1
	}
	if fakeMode("set-missing") {
		fmt.Fprintln(os.Stderr, "Error: No such file or directory")
		fmt.Fprintln(os.Stderr, strings.Join(args, " "))
		return 1
	}
	return 0
}

// fakeIpset answers an add as ipset does; with "set-missing", as when the
// set does not exist; with "set-full", as when it holds maxelem elements.
func fakeIpset(args []string) int {
	recordCall()
	if fakeMode("set-full") {
		fmt.Fprintln(os.Stderr, "ipset v7.17: Hash is full, cannot add more elements")
		return 1
	}
	if fakeMode("set-missing") {
		fmt.Fprintln(os.Stderr, "ipset: The set with the given name does not exist")
		return 1
	}
	return 0
}

// countCalls counts the calls recorded so far, this one included.
func countCalls() int {
	data, _ := os.ReadFile(fakeHome("record"))
	return strings.Count(string(data), "\n")
}

// fakeGo stands in for the go command when the Makefile test runs make:
// it records the call, and with "vet-fails" fails go vet for NetBSD.
func fakeGo(args []string) int {
	recordCall()
	if fakeMode("vet-fails") && len(args) > 0 && args[0] == "vet" && os.Getenv("GOOS") == "netbsd" {
		fmt.Fprintln(os.Stderr, "vet: failed")
		return 1
	}
	return 0
}
