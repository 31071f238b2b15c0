package fleet

// examples/crowdsec/allow-whitelist, run as the drop-in of crowdsec.service
// runs it, on files of iblock's -w format. The fleet tests run it inside
// host A; this one checks its output and its refusals line by line.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

func TestAllowWhitelistWritesEveryEntryOrNothing(t *testing.T) {
	sh := testkit.NeedTool(t, "sh")
	script := testkit.SourcePath("examples/crowdsec/allow-whitelist")
	dir := t.TempDir()
	allow, out := filepath.Join(dir, "allow"), filepath.Join(dir, "iblock-fleet.yaml")
	run := func(text string) (string, error) {
		if err := os.WriteFile(allow, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return testkit.Combined(exec.Command(sh, script, allow, out))
	}
	good := testkit.ReadExample(t, "linux/allow") + "# the fleet\n192.0.2.0/29  # hosts\n\n\t2001:db8::/125\n198.51.100.7\n2001:db8:9::1"
	if msg, err := run(good); err != nil {
		t.Fatalf("allow-whitelist: %v\n%s", err, msg)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`- "192.0.2.0/29"`, `- "2001:db8::/125"`, `- "198.51.100.7/32"`, `- "2001:db8:9::1/128"`,
		`- "127.0.0.0/8"`, `- "::1/128"`, `IpInRange('192.0.2.0', evt.Meta.source_range)`, `IpInRange('2001:db8:9::1', evt.Meta.source_range)`} {
		if !strings.Contains(string(written), want) {
			t.Errorf("the whitelist lacks %s:\n%s", want, written)
		}
	}
	for _, bad := range []string{"192.0.2.1 192.0.2.2\n", "example.org\n", "192.0.2.0/24/8\n", "/24\n", "192.0.2.1;reboot\n", "1234\n"} {
		msg, err := run("198.51.100.7\n" + bad)
		after, _ := os.ReadFile(out)
		if err == nil || !strings.Contains(msg, "line 2") || string(after) != string(written) {
			t.Errorf("allow-whitelist on %q: %v, %q; the whitelist changed: %v", bad, err, msg, string(after) != string(written))
		}
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "iblock-fleet.yaml.*"))
	if len(entries) != 0 {
		t.Errorf("allow-whitelist left %v", entries)
	}
	testkit.Report(t, "allow-whitelist: %d lines of whitelist from %d of allowlist; 6 bad files refused, the old whitelist kept",
		strings.Count(string(written), "\n"), strings.Count(good, "\n")+1)
}
