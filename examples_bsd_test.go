package main

// Checks of examples/netbsd and examples/freebsd. npfctl, FreeBSD's pfctl,
// inetd and doas cannot run here: the lines are read as those programs
// read them, and iblock's arguments go through its own parser, with each
// system's defaults, to the commands the contract gives.

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// inetdLine is one service line of an inetd.conf.
type inetdLine struct {
	service, proto, wait, user, program string
	args                                []string // after argv[0]
}

func inetdLines(t *testing.T, name string) []inetdLine {
	t.Helper()
	var lines []inetdLine
	for _, line := range testkit.ExampleLines(t, name) {
		f := strings.Fields(line)
		if len(f) < 7 || f[1] != "stream" || f[6] != "iblock" {
			t.Fatalf("%s: not an iblock service line: %q", name, line)
		}
		lines = append(lines, inetdLine{f[0], f[2], f[3], f[4], f[5], f[7:]})
	}
	return lines
}

// commandsFor returns the commands iblock would run on goos for a peer.
func commandsFor(t *testing.T, args []string, goos, peer string) []string {
	t.Helper()
	conf, err := parseArgs(args, goos)
	if err != nil {
		t.Fatalf("%q on %s: %v", args, goos, err)
	}
	addr := netip.MustParseAddr(peer)
	var cmds []string
	target, _ := banTarget(conf, nil, addr)
	for _, argv := range conf.backend.banCommands(conf, target, addr.Is6()) {
		cmds = append(cmds, strings.Join(argv, " "))
	}
	return cmds
}

func TestNetBSDExamplesListenOnTheTrapPortsAndAddToTheNpfTable(t *testing.T) {
	lines := inetdLines(t, "netbsd/inetd.conf")
	perPort := map[string][]string{}
	for _, l := range lines {
		perPort[l.service] = append(perPort[l.service], l.proto)
		max, err := strconv.Atoi(strings.TrimPrefix(l.wait, "nowait:"))
		if err != nil || max <= 40 {
			t.Errorf("%s/%s: %q, want nowait:N above NetBSD's default of 40", l.service, l.proto, l.wait)
		}
		if got := commandsFor(t, l.args, "netbsd", "192.0.2.10"); strings.Join(got, "|") != "/sbin/npfctl table iblocked add 192.0.2.10" {
			t.Errorf("%s: iblock %q runs %q", l.service, l.args, got)
		}
	}
	for port, protos := range perPort {
		if strings.Join(protos, " ") != "tcp tcp6" {
			t.Errorf("port %s is served for %v, want tcp and tcp6", port, protos)
		}
		if port == "22" || port == "80" || port == "443" {
			t.Errorf("trap port %s is one a server commonly serves", port)
		}
	}
	npf := strings.Join(testkit.ExampleLines(t, "netbsd/npf.conf"), "\n")
	for _, want := range []string{`table <iblocked> type lpm file "/etc/iblocked"`, "block in final from <iblocked>"} {
		if !strings.Contains(npf, want) {
			t.Errorf("npf.conf lacks %q", want)
		}
	}
}

func TestFreeBSDExamplesServeBothFamiliesThroughDoasAndPfctl(t *testing.T) {
	lines := inetdLines(t, "freebsd/inetd.conf")
	if len(lines) != 1 || lines[0].proto != "tcp46" || lines[0].user != "_iblock" || lines[0].service != "iblock" {
		t.Fatalf("want one tcp46 line for service iblock as _iblock: %+v", lines)
	}
	for _, peer := range []string{"192.0.2.10", "2001:db8::10"} {
		got := commandsFor(t, lines[0].args, "freebsd", peer)
		want := []string{"/usr/local/bin/doas -n /sbin/pfctl -t iblocked -T add " + peer, "/usr/local/bin/doas -n /sbin/pfctl -k " + peer}
		if !testkit.EqualArgvs([][]string{got}, [][]string{want}) {
			t.Errorf("%s: runs %q, want %q", peer, got, want)
		}
	}
	if doas := testkit.ExampleLines(t, "doas.conf"); len(doas) != 1 || !strings.HasSuffix(doas[0], "_iblock as root cmd /sbin/pfctl") {
		t.Errorf("examples/doas.conf does not permit _iblock to run /sbin/pfctl: %q", doas)
	}
	rc := strings.Join(testkit.ExampleLines(t, "freebsd/rc.conf"), "\n")
	rate := 0
	if m := regexp.MustCompile(`inetd_flags="[^"]*-R (\d+)"`).FindStringSubmatch(rc); m != nil {
		rate, _ = strconv.Atoi(m[1])
	}
	if rate <= 256 {
		t.Errorf("rc.conf does not raise inetd's -R above 256: %q", rc)
	}
}
