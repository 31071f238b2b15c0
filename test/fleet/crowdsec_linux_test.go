package fleet

// CrowdSec's roles outside host A, each with a configuration of its own in
// the test's directory, as Debian's packages run them: the local API
// (crowdsec -no-cs) and the firewall bouncer. From /etc they take only the
// bouncer's shipped settings, and from the package the offline hub.
// Nothing talks to CrowdSec's central API (-no-capi, no credentials).
// A's agent is crowdsec.service in A's booted system (fleethost_linux_test.go).

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
	crowdsecHub    = "/var/lib/crowdsec/hub"
	bouncerShipped = "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
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

// writeFiles writes each file under dir with mode, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string, mode os.FileMode) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// localAPI is the fleet's CrowdSec local API and the cscli that manages it.
type localAPI struct {
	t          *testing.T
	ns, config string
	tls        string // what examples/crowdsec/lapi-tls made
	proc       *proc
}

// lapiURL is where the fleet reaches the local API: TLS, at an address
// its certificate names.
const lapiURL = "https://" + lapi4 + ":" + lapiPort

// makeTLS runs examples/crowdsec/lapi-tls as the README says, for the
// local API's addresses and loopback, into dir.
func makeTLS(t *testing.T, dir string) {
	t.Helper()
	testkit.NeedTool(t, "openssl")
	script, err := filepath.Abs("examples/crowdsec/lapi-tls")
	if err != nil {
		t.Fatal(err)
	}
	testkit.MustCombined(t, exec.Command(testkit.NeedTool(t, "sh"), script, dir, lapi4, lapi6, "127.0.0.1"))
}

// example returns an example file of examples/crowdsec with the TLS
// files' paths in this test's directory.
func (l *localAPI) example(name string) string {
	return strings.ReplaceAll(testkit.ReadExample(l.t, "crowdsec/"+name), "/etc/crowdsec/tls", l.tls)
}

// trustCA adds the fleet's authority to a credentials file that cscli
// machines add wrote, as the README says.
func (l *localAPI) trustCA(creds string) {
	l.t.Helper()
	f, err := os.OpenFile(creds, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("ca_cert_path: " + l.tls + "/ca.crt\n"); err != nil {
		l.t.Fatal(err)
	}
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
		"simulation.yaml": "simulation: off\n",
		"data/.keep":      "",
	}, 0o600)
	l := &localAPI{t: t, ns: ns, config: config, tls: filepath.Join(dir, "tls")}
	makeTLS(t, l.tls)
	writeFiles(t, dir, map[string]string{"config.yaml.local": l.example("lapi.yaml.local")}, 0o600)
	l.cscli("machines", "add", "cscli", "--password", "cscli-in-the-test", "-f", dir+"/cscli.yaml",
		"--url", "https://127.0.0.1:"+lapiPort)
	l.trustCA(dir + "/cscli.yaml")
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

// Start runs the local API alone, without the central API, and waits
// until it answers.
func (l *localAPI) Start() {
	l.t.Helper()
	l.proc = startIn(l.t, l.ns, "crowdsec", "-c", l.config, "-no-cs", "-no-capi")
	testkit.WaitUntil(l.t, 20*time.Second, "the local API does not answer", func() bool {
		_, err := testkit.NetOf(l.t, l.ns, "").Run("cscli", "-c", l.config, "decisions", "list")
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
	rows, err := csv.NewReader(strings.NewReader(l.cscli("decisions", "list", "-o", "raw", "--limit", "0"))).ReadAll()
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
	l.cscli("machines", "add", name, "--password", name+"-password-in-the-test", "-f", creds, "--url", lapiURL)
	l.trustCA(creds)
	return creds
}

// addBouncer registers a bouncer and returns its key.
func (l *localAPI) addBouncer(name string) string {
	l.t.Helper()
	return strings.TrimSpace(l.cscli("bouncers", "add", name, "-o", "raw"))
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
		"mode: nftables", "mode: "+mode).Replace(l.example("crowdsec-firewall-bouncer.yaml.local"))
	writeFiles(t, dir, map[string]string{"bouncer.yaml": settings, "bouncer.yaml.local": local}, 0o600)
	return startIn(t, ns, bouncer, "-c", filepath.Join(dir, "bouncer.yaml"))
}
