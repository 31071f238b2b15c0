package fleet

// CrowdSec's roles, each with a configuration of its own in the test's
// directory, as Debian's packages run them: the local API (crowdsec
// -no-cs), the agent that reads a host's syslog file (crowdsec -no-api),
// and the firewall bouncer. From /etc they take only the grok patterns and
// the bouncer's shipped settings, and from the package the offline hub.
// Nothing talks to CrowdSec's central API (-no-capi, no credentials).

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

const (
	crowdsecPatterns = "/etc/crowdsec/patterns"
	crowdsecHub      = "/var/lib/crowdsec/hub"
	bouncerShipped   = "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
	syslogParser     = crowdsecHub + "/parsers/s00-raw/crowdsecurity/syslog-logs.yaml"
)

// proc is a program started in a namespace, stopped when the test ends or
// earlier by stop.
type proc struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{}
}

// startIn starts argv in namespace ns until the test ends; its output is
// shown if the test fails.
func startIn(t *testing.T, ns string, argv ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s said, at the end:\n%s", filepath.Base(argv[0]), lastLines(p.out.String(), 25))
		}
	})
	return p
}

// stop ends the program (ip netns exec has exec'd it: the pid is its own).
func (p *proc) stop() {
	p.cmd.Process.Kill()
	<-p.exited
}

// running reports whether the program has not exited.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// lastLines returns the last n lines of s: the local API logs every request.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// crowdsecCommon is what every role's configuration shares: stay in the
// foreground, log to standard output, the package's offline hub, cscli
// never asking the network which hub branch to use, no metrics port.
func crowdsecCommon(dir string) string {
	return `common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: ` + dir + `/
  data_dir: ` + dir + `/data/
  simulation_path: ` + dir + `/simulation.yaml
  hub_dir: ` + crowdsecHub + `/
  index_path: ` + crowdsecHub + `/.index.json
cscli:
  output: human
  hub_branch: master
prometheus:
  enabled: false
`
}

// writeFiles writes each file under dir, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// localAPI is the fleet's CrowdSec local API and the cscli that manages it.
type localAPI struct {
	t          *testing.T
	ns, config string
	proc       *proc
}

// newLocalAPI writes the local API's configuration, with
// examples/crowdsec/lapi.yaml.local beside it and the example profile, and
// registers a machine for its own cscli. It does not start it.
func newLocalAPI(t *testing.T, ns, dir string) *localAPI {
	t.Helper()
	testkit.NeedTool(t, "crowdsec")
	testkit.NeedTool(t, "cscli")
	config := filepath.Join(dir, "config.yaml")
	profiles, err := filepath.Abs("examples/crowdsec/profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"config.yaml": crowdsecCommon(dir) + `db_config:
  type: sqlite
  db_path: ` + dir + `/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: ` + dir + `/cscli.yaml
  server:
    listen_uri: 127.0.0.1:` + lapiPort + `
    profiles_path: ` + profiles + `
    trusted_ips:
      - 127.0.0.1
`,
		"config.yaml.local": testkit.ReadExample(t, "crowdsec/lapi.yaml.local"),
		"simulation.yaml":   "simulation: off\n",
		"data/.keep":        "",
	})
	l := &localAPI{t: t, ns: ns, config: config}
	l.cscli("machines", "add", "cscli", "--password", "cscli-in-the-test", "-f", dir+"/cscli.yaml",
		"--url", "http://127.0.0.1:"+lapiPort)
	return l
}

// cscli runs cscli on the local API's host and returns its output.
func (l *localAPI) cscli(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", l.ns, "cscli", "-c", l.config}, args...)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("cscli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start runs the local API alone, without the central API, and waits
// until it answers.
func (l *localAPI) Start() {
	l.t.Helper()
	l.proc = startIn(l.t, l.ns, "crowdsec", "-c", l.config, "-no-cs", "-no-capi")
	testkit.WaitUntil(l.t, 20*time.Second, "the local API does not answer", func() bool {
		_, err := (&testkit.Net{T: l.t, Server: l.ns}).Run("cscli", "-c", l.config, "decisions", "list")
		return err == nil
	})
}

// decision is one row of cscli decisions list -o raw.
type decision struct {
	scope, value, scenario, expiration string
}

// decisions returns the local API's active decisions.
func (l *localAPI) decisions() []decision {
	l.t.Helper()
	rows, err := csv.NewReader(strings.NewReader(l.cscli("decisions", "list", "-o", "raw"))).ReadAll()
	if err != nil {
		l.t.Fatal(err)
	}
	var ds []decision
	for _, r := range rows[1:] { // id,source,ip,reason,action,…,expiration,simulated,alert_id
		scope, value, _ := strings.Cut(r[2], ":")
		ds = append(ds, decision{scope, value, r[3], r[8]})
	}
	return ds
}

// decisionFor returns the active decision whose value is v.
func (l *localAPI) decisionFor(v string) (decision, bool) {
	l.t.Helper()
	for _, d := range l.decisions() {
		if d.value == v {
			return d, true
		}
	}
	return decision{}, false
}

// addMachine registers an agent and returns its credentials file.
func (l *localAPI) addMachine(name, dir string) string {
	l.t.Helper()
	creds := filepath.Join(dir, "credentials.yaml")
	l.cscli("machines", "add", name, "--password", name+"-password-in-the-test", "-f", creds,
		"--url", "http://"+lapi4+":"+lapiPort)
	return creds
}

// addBouncer registers a bouncer and returns its key.
func (l *localAPI) addBouncer(name string) string {
	l.t.Helper()
	return strings.TrimSpace(l.cscli("bouncers", "add", name, "-o", "raw"))
}

// agent is a CrowdSec agent on a host with the trap.
type agent struct {
	t          *testing.T
	ns, config string
	proc       *proc
}

// newAgent writes an agent's configuration: the stock syslog parser, the
// examples' parser, whitelist, scenarios and acquisition (reading syslog
// instead of /var/log/syslog), and credentials from the local API.
func newAgent(t *testing.T, l *localAPI, ns, dir, syslog string) *agent {
	t.Helper()
	writeFiles(t, dir, map[string]string{
		"config.yaml": crowdsecCommon(dir) + `crowdsec_service:
  acquisition_path: ` + dir + `/acquis.yaml
  parser_routines: 1
api:
  client:
    credentials_path: ` + dir + `/credentials.yaml
`,
		"config.yaml.local":                    testkit.ReadExample(t, "crowdsec/agent.yaml.local"),
		"simulation.yaml":                      "simulation: off\n",
		"acquis.yaml":                          strings.ReplaceAll(testkit.ReadExample(t, "crowdsec/acquis.yaml"), "/var/log/syslog", syslog),
		"parsers/s01-parse/iblock-logs.yaml":   testkit.ReadExample(t, "crowdsec/iblock-logs.yaml"),
		"parsers/s02-enrich/iblock-fleet.yaml": testkit.ReadExample(t, "crowdsec/whitelists.yaml"),
		"scenarios/iblock-trap.yaml":           testkit.ReadExample(t, "crowdsec/iblock-trap.yaml"),
		"data/.keep":                           "",
		"parsers/s00-raw/.keep":                "",
	})
	for link, target := range map[string]string{"patterns": crowdsecPatterns, "parsers/s00-raw/syslog-logs.yaml": syslogParser} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	l.addMachine(filepath.Base(ns), dir)
	return &agent{t: t, ns: ns, config: filepath.Join(dir, "config.yaml")}
}

// start runs the agent; agent.yaml.local leaves out the local API. The caller waits
// for it to read (see fleet.waitAgentReads): it reads its file from the
// end, from the moment it has opened it.
func (a *agent) Start() {
	a.proc = startIn(a.t, a.ns, "crowdsec", "-c", a.config)
}

// startBouncer runs the firewall bouncer in ns with the package's settings,
// kept in the foreground and logging to standard output, and
// examples/crowdsec/crowdsec-firewall-bouncer.yaml.local over them, with
// the key and the mode given.
func startBouncer(t *testing.T, l *localAPI, ns, dir, mode string) *proc {
	t.Helper()
	bouncer := testkit.NeedTool(t, "crowdsec-firewall-bouncer")
	shipped, err := os.ReadFile(bouncerShipped)
	if err != nil {
		testkit.SkipOrFail(t, "the bouncer's settings: "+err.Error())
	}
	settings := strings.NewReplacer("daemonize: true", "daemonize: false", "log_mode: file", "log_mode: stdout",
		"enabled: true\n  listen_addr", "enabled: false\n  listen_addr").Replace(string(shipped))
	local := strings.NewReplacer("THE-KEY-cscli-bouncers-add-PRINTED", l.addBouncer(filepath.Base(ns)),
		"mode: nftables", "mode: "+mode).Replace(testkit.ReadExample(t, "crowdsec/crowdsec-firewall-bouncer.yaml.local"))
	writeFiles(t, dir, map[string]string{"bouncer.yaml": settings, "bouncer.yaml.local": local})
	return startIn(t, ns, bouncer, "-c", filepath.Join(dir, "bouncer.yaml"))
}

// startRsyslog runs rsyslogd in ns as a host's syslogd: it reads the unix
// socket sock, and the kernel's log (/dev/kmsg) as Debian's rsyslog does,
// and writes every line to file in the traditional format
// (Dec  2 01:00:00 hosta iblock[4242]: blocking 192.0.2.10), as Debian's
// rsyslog writes /var/log/syslog. The kernel's log is one for every
// namespace and holds what came before: of it, the file gets the lines
// that name kernelMark alone.
func startRsyslog(t *testing.T, ns, dir, sock, file, hostname, kernelMark string) {
	t.Helper()
	rsyslogd := testkit.NeedTool(t, "rsyslogd")
	conf := filepath.Join(dir, "rsyslog.conf")
	writeFiles(t, dir, map[string]string{"rsyslog.conf": `global(workDirectory="` + dir + `" localHostName="` + hostname + `")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="` + sock + `" RateLimit.Interval="0")
module(load="imkmsg")
if $inputname == "imkmsg" and not ($msg contains "` + kernelMark + `") then stop
*.* action(type="omfile" file="` + file + `" template="RSYSLOG_TraditionalFileFormat")
`})
	if err := os.WriteFile(file, nil, 0o640); err != nil { // the agent must find it
		t.Fatal(err)
	}
	startIn(t, ns, rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	testkit.WaitUntil(t, 10*time.Second, "rsyslogd does not listen on "+sock, func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
}
