package fleet

// Host A of the fleet, booted for real: Debian 12 with systemd, journald,
// the kernel-side ruleset loaded by nftables.service, iblock behind
// iblock.socket and behind openbsd-inetd, and CrowdSec's agent as
// crowdsec.service reading the journal, set up as the README says.
//
// The kernel's log: a container's journald reads none, and the kernel
// writes the lines of every network namespace to the one log of the
// machine (nf_log_all_netns=1). So the machine's /dev/kmsg is bound into
// A, with CAP_SYSLOG to read it, and journald's ReadKMsg= on: A's journal
// gets the kernel's lines with _TRANSPORT=kernel, as a real host's does.
// It gets those of every other test too. The agent reads none of them:
// the ruleset's bans reach it through ulogd2, from NFLOG in A's own
// namespace (examples/crowdsec/ulogd.conf), as on a real host.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// fleetImage is the trap host's system: the booted system's packages,
// CrowdSec, openbsd-inetd, ulogd2 (the ruleset's bans for the fleet) and
// netcat-openbsd (a local account's connections from a chosen port). The credentials file, written before the
// packages are installed, keeps crowdsec's postinst from registering with
// CrowdSec's central API, as the README's first step does.
var fleetImage = testkit.Image{
	Packages: append([]string{"crowdsec", "netcat-openbsd", "openbsd-inetd", "ulogd2"}, testkit.PlainImage.Packages...),
	Hooks: []string{`--essential-hook=mkdir -p "$1/etc/crowdsec" && ` +
		`echo '# no central API' >"$1/etc/crowdsec/online_api_credentials.yaml"`},
}

// A's iblocks besides iblock.socket's, which the trap ports lead to:
// inetd's, with the example's lines, and a copy of iblock.socket with
// the example's units. The kernel-side ruleset traps neither port, so
// what reaches the fleet from them is iblock's line alone.
const (
	inetdPort  = "2509"
	socketPort = "2510"
)

// forgeHelper is this test binary inside A, where it sends raw syslog
// datagrams (see testkit.Forge).
const forgeHelper = "/usr/local/libexec/" + testkit.Forge

// allowDropIn gives iblock under systemd the allowlist A's allow sets
// hold, as the inetd lines get it with -w.
const allowDropIn = `[Service]
ExecStart=
ExecStart=/usr/local/bin/iblock -d none -w /etc/iblock/allow
`

// bootTrapHost installs iblock, its Linux files and CrowdSec's agent files
// into a fresh system, boots it in A's namespace, and waits for the trap
// ports. The local API must answer already: the agent logs in at boot.
func (f *fleet) bootTrapHost() {
	t := f.t
	root := testkit.OverlayOf(t, fleetImage)
	testkit.InstallLinuxFiles(t, root)
	f.iblockUID = passwdUID(t, root, "iblock")
	f.ulogUID = passwdUID(t, root, "ulog")
	f.installTrapFiles(root)
	f.installAgentFiles(root)
	f.host = testkit.Boot(t, f.hostA.Net, root, "--bind=/dev/kmsg", "--capability=CAP_SYSLOG")
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := f.host.Run("tail", "-n", "30", "/var/log/crowdsec.log")
			t.Logf("A's agent said, at the end:\n%s", log)
		}
	})
	a := f.hostA
	// A's allow sets hold what its allowlist holds, as the one list of
	// what is the administrator's fills both.
	for _, p := range f.allowedPrefixes() {
		if p.Addr().IsLoopback() {
			continue // in the ruleset already
		}
		set := "allowed"
		if p.Addr().Is6() {
			set = "allowed6"
		}
		a.MustRun("nft", "add", "element", "inet", "iblock", set, "{ "+p.String()+" }")
	}
	for _, port := range []string{testkit.IblockPort, rangePort, inetdPort, socketPort} {
		a.WaitListening(port)
	}
}

// installTrapFiles writes A's allowlist, inetd's lines (the example's, on
// inetdPort, and again on rangePort with -4 24 -6 64), the allowlist
// drop-ins, the copy of iblock.socket, journald's kernel log setting and
// the forging helper.
func (f *fleet) installTrapFiles(root string) {
	t := f.t
	var inetd strings.Builder
	for _, line := range testkit.ExampleLines(t, "linux/inetd.conf") {
		line += " -w /etc/iblock/allow"
		inetd.WriteString(strings.Replace(line, testkit.IblockPort, inetdPort, 1) + "\n")
		inetd.WriteString(strings.Replace(line, testkit.IblockPort, rangePort, 1) + " -4 24 -6 64\n")
	}
	socket := strings.Replace(testkit.ReadExample(t, "linux/iblock.socket"), "ListenStream="+testkit.IblockPort, "ListenStream="+socketPort, 1)
	files := map[string]string{
		"etc/iblock/allow": f.allowFile(),
		"etc/inetd.conf":   inetd.String(),
		"etc/ulogd.conf":   testkit.ReadExample(t, "crowdsec/ulogd.conf"),
		"etc/systemd/system/crowdsec.service.d/iblock-allow.conf": testkit.ReadExample(t, "crowdsec/crowdsec.service.d/iblock-allow.conf"),
		"etc/systemd/system/iblock@.service.d/allow.conf":         allowDropIn,
		"etc/systemd/system/iblock-fleet@.service.d/allow.conf":   allowDropIn,
		"etc/systemd/system/iblock-fleet@.service":                testkit.ReadExample(t, "linux/iblock@.service"),
		"etc/systemd/system/iblock-fleet.socket":                  socket,
		"etc/systemd/journald.conf.d/kmsg.conf":                   "[Journal]\nReadKMsg=yes\n",
		// Debian's own /etc/crowdsec/acquis.yaml reads it, as on a host
		// with rsyslog: the parser must take nothing from it.
		"var/log/syslog": "",
	}
	writeFiles(t, root, files, 0o644)
	enable := testkit.NeedTool(t, "systemctl")
	testkit.MustCombined(t, exec.Command(enable, "--root="+root, "enable", "iblock-fleet.socket", "inetd.service", "crowdsec.service", "ulogd2.service"))
	testkit.InstallFile(t, testkit.SourcePath("examples/crowdsec/allow-whitelist"), filepath.Join(root, allowWhitelist), 0o755)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testkit.InstallFile(t, exe, filepath.Join(root, forgeHelper), 0o755)
}

// installAgentFiles sets up CrowdSec on A as the README's steps do: the
// agent alone, its credentials and the fleet's authority, and the
// examples' acquisition, parser, whitelist and scenarios.
func (f *fleet) installAgentFiles(root string) {
	t := f.t
	l := f.lapi
	creds, err := os.ReadFile(l.addMachine("hosta", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(l.tls, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	local, _ := os.ReadFile(filepath.Join(root, "etc/crowdsec/config.yaml.local"))
	writeFiles(t, root, map[string]string{
		"etc/crowdsec/config.yaml.local":                  string(local) + testkit.ReadExample(t, "crowdsec/agent.yaml.local"),
		"etc/crowdsec/local_api_credentials.yaml":         strings.ReplaceAll(string(creds), l.tls, "/etc/crowdsec/tls"),
		"etc/crowdsec/tls/ca.crt":                         string(ca),
		"etc/crowdsec/acquis.d/iblock.yaml":               f.acquisition(),
		"etc/crowdsec/parsers/s01-parse/iblock-logs.yaml": testkit.ReadExample(t, "crowdsec/iblock-logs.yaml"),
		"etc/crowdsec/scenarios/iblock-trap.yaml":         testkit.ReadExample(t, "crowdsec/iblock-trap.yaml"),
	}, 0o600)
}

// acquisition is examples/crowdsec/acquis.yaml with the user iblock's
// and ulogd2's numbers put in, as the README's sed does. It must not read
// the kernel's log (see the top of this file).
func (f *fleet) acquisition() string {
	text := testkit.ReadExample(f.t, "crowdsec/acquis.yaml")
	if !strings.Contains(text, "_UID=IBLOCK_UID") || !strings.Contains(text, "_UID=ULOG_UID") {
		f.t.Fatal("acquis.yaml has no _UID=IBLOCK_UID or _UID=ULOG_UID line")
	}
	if strings.Contains(text, "- _TRANSPORT=kernel") {
		f.t.Fatal("acquis.yaml reads the kernel's log, which any network namespace writes to")
	}
	return strings.NewReplacer("_UID=IBLOCK_UID", "_UID="+f.iblockUID, "_UID=ULOG_UID", "_UID="+f.ulogUID).Replace(text)
}

// allowWhitelist is where A has examples/crowdsec/allow-whitelist, which
// the drop-in of crowdsec.service runs.
const allowWhitelist = "usr/local/libexec/iblock/allow-whitelist"

// allowFile is A's /etc/iblock/allow: examples/linux/allow, then, as the
// README says, every host of the fleet, and the bystanders that A's
// allow sets hold. iblock reads it with -w, and the agent's whitelist is
// made from it each time the agent starts.
func (f *fleet) allowFile() string {
	return testkit.ReadExample(f.t, "linux/allow") + "# the fleet\n" + strings.Join(fleetNetworks, "\n") + "\n" +
		"# bystanders\n" + testkit.Bystander4 + "\n" + testkit.Bystander6 + "\n"
}

// passwdUID returns a user's number from a system's /etc/passwd.
func passwdUID(t *testing.T, root, user string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Split(line, ":"); len(fields) > 2 && fields[0] == user {
			return fields[2]
		}
	}
	t.Fatalf("no user %s in %s/etc/passwd", user, root)
	return ""
}

// journalLines returns the messages of A's journal that contain text,
// among those journalctl selects with args.
func (f *fleet) journalLines(text string, args ...string) []string {
	var found []string
	for _, m := range f.host.JournalMessages(args...) {
		if strings.Contains(m, text) {
			found = append(found, m)
		}
	}
	return found
}

// iblockLines returns iblock's lines in A's journal that contain text.
func (f *fleet) iblockLines(text string) []string { return f.journalLines(text, "-t", "iblock") }

// trusted logs a line as iblock does under inetd: as root, to the syslog
// socket. The agent believes it, as it believes anything root writes in
// iblock's name.
func (f *fleet) trusted(line string) {
	f.t.Helper()
	f.host.MustRun("logger", "-t", "iblock", "-p", "daemon.notice", line)
}

// agentRunning reports whether crowdsec.service runs on A.
func (f *fleet) agentRunning() bool {
	out, _ := f.host.Run("systemctl", "is-active", "crowdsec.service")
	return strings.TrimSpace(out) == "active"
}

// restartAgent restarts crowdsec.service on A and waits until it reads.
func (f *fleet) restartAgent() {
	f.t.Helper()
	f.host.MustRun("systemctl", "restart", "crowdsec.service")
	testkit.WaitUntil(f.t, 30*time.Second, "crowdsec.service does not run again", f.agentRunning)
	f.waitAgentReads()
}
