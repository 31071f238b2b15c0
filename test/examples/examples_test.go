package examples

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

func TestExampleInetdConfServesBothFamiliesWithARaisedSpawnLimit(t *testing.T) {
	lines := testkit.ExampleLines(t, "inetd.conf")
	if len(lines) != 2 {
		t.Fatalf("want a tcp and a tcp6 line, got %q", lines)
	}
	for i, want := range []struct{ addr, proto string }{{"127.0.0.1:2507", "tcp"}, {"[::1]:2507", "tcp6"}} {
		f := strings.Fields(lines[i])
		if len(f) != 7 || f[0] != want.addr || f[1] != "stream" || f[2] != want.proto ||
			f[4] != "_iblock" || f[5] != "/usr/local/bin/iblock" || f[6] != "iblock" {
			t.Errorf("line %q", lines[i])
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(f[3], "nowait."))
		if err != nil || n <= 256 {
			t.Errorf("%s: want nowait.N above inetd's default of 256", f[3])
		}
	}
}

func TestExamplePfConfBlocksTheDefaultTableAndRedirectsToInetd(t *testing.T) {
	wantPfConf(t, "pf.conf",
		"pass in quick on egress inet proto tcp to port $trap_ports rdr-to 127.0.0.1 port 2507",
		"pass in quick on egress inet6 proto tcp to port $trap_ports rdr-to ::1 port 2507")
}

func TestExampleFreeBSDPfConfBlocksTheDefaultTableAndRedirectsToInetd(t *testing.T) {
	wantPfConf(t, "freebsd/pf.conf", "rdr on $ext_if proto tcp to port $trap_ports -> ($ext_if) port 2507")
}

// wantPfConf fails the test unless a pf.conf example loads the default
// table from /etc/iblocked and blocks it before it passes anything, holds
// the redirections given, and makes no port a server commonly serves a
// trap port.
func wantPfConf(t *testing.T, name string, redirects ...string) {
	t.Helper()
	text := strings.Join(testkit.ExampleLines(t, name), "\n")
	for _, want := range append([]string{
		`table <iblocked> persist file "/etc/iblocked"`,
		"block in quick from <iblocked> label iblock",
	}, redirects...) {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
	if strings.Index(text, "block in quick") > strings.Index(text, "pass in quick") {
		t.Errorf("%s: the block rule must come before the pass rules", name)
	}
	ports := regexp.MustCompile(`trap_ports = "\{([ 0-9]+)\}"`).FindStringSubmatch(text)
	if ports == nil {
		t.Fatalf("%s: no trap_ports macro", name)
	}
	for _, p := range strings.Fields(ports[1]) {
		if p == "22" || p == "80" || p == "443" || p == "2507" {
			t.Errorf("%s: trap port %s is one a server commonly serves", name, p)
		}
	}
}

func TestExampleDoasConfPermitsIblocksDefaultProgram(t *testing.T) {
	lines := testkit.ExampleLines(t, "doas.conf")
	want := "permit nopass _iblock as root cmd " + defaultProgram(t, "pf")
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("doas.conf: %q, want %q", lines, want)
	}
}

// defaultProgram is the program iblock runs for a backend when not told
// which: what its dry run (-n) says it would run.
func defaultProgram(t *testing.T, backend string) string {
	t.Helper()
	c := testkit.RunInetd(t, testkit.Iblock(t), testkit.NewFakeDir(t), testkit.Loopback4, "-n", "-w", "/dev/null", "-b", backend, "-d", "none")
	for _, l := range c.Logs {
		if cmd, ok := strings.CutPrefix(l.Msg, "dry run: would run "); ok {
			return strings.Fields(cmd)[0]
		}
	}
	t.Fatalf("iblock -n -b %s logged no command: %v", backend, c.Logs)
	return ""
}

// exampleScript copies an example shell script with /sbin/pfctl and
// /etc/iblocked pointing into the test's directory.
func exampleScript(t *testing.T, fk *testkit.FakeDir, name string) string {
	t.Helper()
	text := strings.ReplaceAll(testkit.ReadExample(t, name), "/sbin/pfctl", fk.Path("pfctl"))
	text = strings.ReplaceAll(text, "/etc/iblocked", filepath.Join(fk.Dir, "iblocked"))
	path := filepath.Join(fk.Dir, name)
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func runScript(t *testing.T, fk *testkit.FakeDir, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{script}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	return string(out), err
}

func writeFakeTable(t *testing.T, fk *testkit.FakeDir, entries map[string]time.Time) {
	t.Helper()
	var b strings.Builder
	for addr, added := range entries {
		b.WriteString(addr + " " + strconv.FormatInt(added.Unix(), 10) + "\n")
	}
	if err := os.WriteFile(filepath.Join(fk.State, "iblocked"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExampleRcShutdownSavesTheTableAndKeepsItWhenPfctlFails(t *testing.T) {
	fk := testkit.NewFakeDir(t)
	script := exampleScript(t, fk, "rc.shutdown")
	saved := filepath.Join(fk.Dir, "iblocked")
	writeFakeTable(t, fk, map[string]time.Time{"192.0.2.1": time.Now(), "2001:db8::1": time.Now()})
	if _, err := runScript(t, fk, script); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(saved)
	if string(got) != "   192.0.2.1\n   2001:db8::1\n" {
		t.Errorf("saved %q", got)
	}
	fk.SetMode(t, "show-fails")
	runScript(t, fk, script)
	if again, _ := os.ReadFile(saved); string(again) != string(got) {
		t.Errorf("a failing pfctl changed the saved list to %q", again)
	}
	if _, err := os.Stat(saved + ".tmp"); !os.IsNotExist(err) {
		t.Error("the temporary file was left behind")
	}
}

func TestExampleCrontabExpiresEntriesAfterTenDaysAndSavesTheTableHourly(t *testing.T) {
	lines := testkit.ExampleLines(t, "crontab")
	if len(lines) != 2 {
		t.Fatalf("crontab: %q", lines)
	}
	fk := testkit.NewFakeDir(t)
	saved := filepath.Join(fk.Dir, "iblocked")
	failing := false
	runCron := func(line string) {
		t.Helper()
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "*" || f[2] != "*" || f[3] != "*" || f[4] != "*" {
			t.Fatalf("not an hourly crontab line: %q", line)
		}
		command := strings.ReplaceAll(strings.Join(f[5:], " "), "/sbin/pfctl", fk.Path("pfctl"))
		command = strings.ReplaceAll(command, "/etc/iblocked", saved)
		cmd := exec.Command("/bin/sh", "-c", command) // as cron runs it
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil && !failing {
			t.Fatalf("%s: %v %s", command, err, out)
		}
	}
	writeFakeTable(t, fk, map[string]time.Time{
		"192.0.2.1": time.Now().Add(-11 * 24 * time.Hour), "192.0.2.2": time.Now().Add(-9 * 24 * time.Hour),
	})
	runCron(lines[0])
	if got := fk.Table(t, "iblocked"); strings.Join(got, " ") != "192.0.2.2" {
		t.Errorf("after expiry the table holds %v, want the 9-day-old entry only", got)
	}
	runCron(lines[1])
	if got, _ := os.ReadFile(saved); string(got) != "   192.0.2.2\n" {
		t.Errorf("saved %q", got)
	}
	fk.SetMode(t, "show-fails")
	failing = true
	runCron(lines[1])
	if got, _ := os.ReadFile(saved); string(got) != "   192.0.2.2\n" {
		t.Errorf("a failing pfctl changed the saved list to %q", got)
	}
	if _, err := os.Stat(saved + ".tmp"); !os.IsNotExist(err) {
		t.Error("the temporary file was left behind")
	}
}

func TestExampleMuninPluginCountsTheTable(t *testing.T) {
	fk := testkit.NewFakeDir(t)
	plugin := exampleScript(t, fk, "munin-iblock")
	config, err := runScript(t, fk, plugin, "config")
	if err != nil || !strings.Contains(config, "graph_title Addresses banned by iblock\n") || !strings.Contains(config, "banned.label banned\n") {
		t.Errorf("config: %q %v", config, err)
	}
	writeFakeTable(t, fk, map[string]time.Time{"192.0.2.1": time.Now(), "192.0.2.2": time.Now(), "2001:db8::1": time.Now()})
	if out, _ := runScript(t, fk, plugin); out != "banned.value 3\n" {
		t.Errorf("value: %q", out)
	}
	fk.SetMode(t, "show-fails")
	if out, _ := runScript(t, fk, plugin); out != "banned.value U\n" {
		t.Errorf("value when pfctl fails: %q", out)
	}
}

// TestExampleInetdConfBansThroughDebianInetd runs openbsd-inetd with the
// example's lines, the port and paths changed, and the fakes for doas and
// pfctl. A connection from loopback is banned over IPv4 and IPv6.
func TestExampleInetdConfBansThroughDebianInetd(t *testing.T) {
	testkit.NeedRoot(t)
	inetd := testkit.NeedTool(t, "inetd")
	fk := testkit.NewFakeDir(t)
	port := freePort(t)
	var conf strings.Builder
	for _, line := range testkit.ExampleLines(t, "inetd.conf") {
		line = strings.ReplaceAll(line, ":2507", ":"+port)
		line = strings.ReplaceAll(line, "_iblock", "root")
		line = strings.ReplaceAll(line, "/usr/local/bin/iblock", testkit.Iblock(t))
		conf.WriteString(line + " -w /dev/null -b pf -d " + fk.Path("doas") + " -c " + fk.Path("pfctl") + "\n")
	}
	confPath := filepath.Join(fk.Dir, "inetd.conf")
	os.WriteFile(confPath, []byte(conf.String()), 0o644)
	cmd := exec.Command(inetd, "-d", confPath)
	cmd.Env = fk.Env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	for _, host := range []string{"127.0.0.1", "::1"} {
		received := connectWhenListening(t, net.JoinHostPort(host, port))
		if len(received) != 0 {
			t.Errorf("the scanner received %q", received)
		}
		c := testkit.Connection{Calls: fk.Calls(t)}
		c.WantArgv(t,
			[]string{fk.Path("doas"), "-n", fk.Path("pfctl"), "-t", "iblocked", "-T", "add", host},
			[]string{fk.Path("pfctl"), "-t", "iblocked", "-T", "add", host},
			[]string{fk.Path("doas"), "-n", fk.Path("pfctl"), "-k", host},
			[]string{fk.Path("pfctl"), "-k", host})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// connectWhenListening connects once the service listens, and reads until
// the service closes the connection: by then iblock has exited.
func connectWhenListening(t *testing.T, addr string) []byte {
	t.Helper()
	var c net.Conn
	testkit.WaitUntil(t, 10*time.Second, "nothing listens on "+addr, func() bool {
		var err error
		c, err = net.DialTimeout("tcp", addr, time.Second)
		return err == nil
	})
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, _ := io.ReadAll(c)
	return got
}

func TestManPageIsCleanUnderMandocLint(t *testing.T) {
	mandoc := testkit.NeedTool(t, "mandoc")
	out, err := exec.Command(mandoc, "-Tlint", "-W", "warning", "iblock.8").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("mandoc -Tlint: %v\n%s", err, out)
	}
}

// TestInetdLinesInTheDocsAreThoseOfTheExamples checks every inetd.conf
// line the README, doc/*.md and the manual show against the example files.
func TestInetdLinesInTheDocsAreThoseOfTheExamples(t *testing.T) {
	known := map[string]bool{}
	files, _ := filepath.Glob("examples/*inetd.conf")
	more, _ := filepath.Glob("examples/*/inetd.conf")
	alternatives, _ := filepath.Glob("examples/*/inetd.*.conf") // such as inetd.blocklistd.conf
	more = append(more, alternatives...)
	for _, f := range append(files, more...) {
		for _, line := range testkit.ExampleLines(t, strings.TrimPrefix(f, "examples/")) {
			known[strings.Join(strings.Fields(line), " ")] = true
		}
	}
	shown := 0
	docs, _ := filepath.Glob("doc/*.md")
	for _, doc := range append([]string{"README.md", "iblock.8"}, docs...) {
		data, _ := os.ReadFile(doc)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) < 7 || f[1] != "stream" || !strings.HasPrefix(f[2], "tcp") {
				continue
			}
			shown++
			// The README's root variant of the OpenBSD line.
			asIblock := strings.TrimSuffix(strings.Replace(strings.Join(f, " "), " root ", " _iblock ", 1), " -d none")
			if !known[strings.Join(f, " ")] && !known[asIblock] {
				t.Errorf("%s shows an inetd.conf line no example has: %q", doc, line)
			}
		}
	}
	if shown < 10 {
		t.Errorf("found only %d inetd.conf lines in the docs", shown)
	}
}
