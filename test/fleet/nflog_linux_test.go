package fleet

// The rulesets hand each ten-day ban to ulogd2 through NFLOG group 2507,
// in their own network namespace and in no other: what the fleet believes
// of the kernel-side bans (examples/crowdsec/ulogd.conf). Another
// namespace, even root's, that logs to its group 2507 reaches only a
// ulogd2 of its own.

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// ulogdBan is the parser's shape of ulogd2's line (iblock-logs.yaml), as
// LOGEMU writes it after its date and host name.
var ulogdBan = regexp.MustCompile(`iblock-ban: +IN=\S* OUT=\S* (MAC=\S* )?SRC=(\S+) DST=\S+ .*PROTO=TCP SPT=[0-9]+ DPT=([0-9]+) `)

func TestRulesetsHandTenDayBansToUlogdOfTheirOwnNamespaceAlone(t *testing.T) {
	for _, setup := range []struct {
		name string
		load func(*testkit.Net)
	}{{"nft", (*testkit.Net).LoadKernelNft}, {"ipset", (*testkit.Net).LoadKernelIpset}} {
		t.Run(setup.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("network namespaces")
			}
			testkit.NeedRoot(t)
			ulogd := testkit.NeedTool(t, "ulogd")
			n := testkit.NewNet(t)
			setup.load(n)
			testkit.ListenIn(t, n.Server, ":"+testkit.IblockPort, func(c net.Conn) { c.Close() })
			emu := startUlogd(t, ulogd, n.Server)
			// The other namespace's own ulogd2 gets its line: it is there.
			other := startUlogd(t, ulogd, n.Scanner)
			forgeInOtherNamespace(t, n.Scanner)
			testkit.WaitUntil(t, 10*time.Second, "the other namespace's ulogd2 got no line", func() bool {
				return len(ulogdLines(other)) > 0
			})
			for _, f := range testkit.Families {
				n.ConnectThenClose(t, f.Scanner, f.Server, false)
			}
			var lines []string
			testkit.WaitUntil(t, 10*time.Second, "ulogd2 wrote no line for the scanners", func() bool {
				lines = ulogdLines(emu)
				return len(lines) >= len(testkit.Families)
			})
			for i, f := range testkit.Families {
				if i >= len(lines) {
					break
				}
				m := ulogdBan.FindStringSubmatch(lines[i])
				if m == nil || m[2] != f.Scanner || m[3] != testkit.IblockPort {
					t.Errorf("ulogd2's line for %s does not take the parser's shape, with SRC=%s DPT=%s: %q", f.Name, f.Scanner, testkit.IblockPort, lines[i])
				}
			}
			for _, l := range lines {
				if strings.Contains(l, "DPT="+forgedPort+" ") {
					t.Errorf("ulogd2 in the server's namespace read another namespace's line: %q", l)
				}
			}
			testkit.Report(t, "ulogd2 read %d lines from the %s ruleset's NFLOG group 2507, none of the %d of the other namespace's; %s",
				len(lines), setup.name, len(ulogdLines(other)), lines[0][strings.Index(lines[0], "iblock-ban:"):])
		})
	}
}

// forgedPort is where the other namespace's packet goes: no ruleset
// here traps it.
const forgedPort = "9"

// forgeInOtherNamespace loads, in namespace ns, a ruleset that hands
// every packet to port 9 to NFLOG group 2507 with iblock's prefix, and
// sends one there.
func forgeInOtherNamespace(t *testing.T, ns string) {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "forge.nft")
	text := "table inet forge {\n chain out {\n  type filter hook output priority 0;\n  tcp dport " + forgedPort +
		" log group 2507 prefix \"iblock-ban: \"\n }\n}\n"
	if err := os.WriteFile(rules, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.MustCombined(t, exec.Command("ip", "netns", "exec", ns, testkit.NeedTool(t, "nft"), "-f", rules))
	if c, err := testkit.DialFrom(ns, testkit.Scanner4, testkit.Server4, forgedPort, time.Second); err == nil {
		c.Close()
	}
}

// startUlogd runs ulogd2 in namespace ns with examples/crowdsec/ulogd.conf,
// its syslog output made a file (a namespace has no journal), and returns
// that file once ulogd2 listens.
func startUlogd(t *testing.T, ulogd, ns string) string {
	t.Helper()
	dir := t.TempDir()
	emu, logfile := filepath.Join(dir, "bans.log"), filepath.Join(dir, "ulogd.log")
	conf := testkit.ReadExample(t, "crowdsec/ulogd.conf")
	for _, want := range []string{",sys1:SYSLOG\n", "logfile=\"syslog\"\n", "group=2507\n"} {
		if !strings.Contains(conf, want) {
			t.Fatalf("ulogd.conf has no %q", want)
		}
	}
	conf = strings.NewReplacer(",sys1:SYSLOG\n", ",emu1:LOGEMU\n", "logfile=\"syslog\"\n", "logfile=\""+logfile+"\"\n").Replace(conf) +
		"\n[emu1]\nfile=\"" + emu + "\"\nsync=1\n"
	path := filepath.Join(dir, "ulogd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startIn(t, ns, ulogd, "-c", path)
	testkit.WaitUntil(t, 10*time.Second, "ulogd2 did not start", func() bool {
		text, _ := os.ReadFile(logfile)
		return strings.Contains(string(text), "entering main loop") || !p.running()
	})
	if !p.running() {
		text, _ := os.ReadFile(logfile)
		t.Fatalf("ulogd2 exited:\n%s%s", text, p.out.String())
	}
	return emu
}

// ulogdLines returns the lines of ulogd2's output file.
func ulogdLines(path string) []string {
	text, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, "iblock-ban:") {
			lines = append(lines, l)
		}
	}
	return lines
}
