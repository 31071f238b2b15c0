package examples

import (
	"os/exec"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// TestExampleBlocklistdHelperBansBothFamiliesWholeAndUnbans runs
// examples/linux/blocklistd-helper as blocklistd runs it, in a namespace
// of its own: IPv4, IPv4 as a dual-stack socket gives it, and IPv6 go into
// the sets whole, rem and flush take them out, "OK" answers each, and a
// rule of another name goes to the stock helper.
func TestExampleBlocklistdHelperBansBothFamiliesWholeAndUnbans(t *testing.T) {
	ns := testkit.NewNamespace(t, "blh")
	testkit.NeedTool(t, "nft")
	helper := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, testkit.SourcePath("examples/linux/blocklistd-helper")}, args...)...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(args ...string) {
		t.Helper()
		if out, err := helper(args...); err != nil || out != "OK" {
			t.Fatalf("helper %q: %v %q, want OK", args, err, out)
		}
	}
	sets := func() string {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "blocklistd_iblock").CombinedOutput()
		if err != nil {
			t.Fatalf("%v %s", err, out)
		}
		return string(out)
	}
	must("flush", "iblock") // before the first ban, as blocklistd -f does
	must("add", "iblock", "tcp", testkit.Scanner4, "32", "2507")
	must("add", "iblock", "tcp", "::ffff:"+testkit.Victim4, "128", "2507")
	must("add", "iblock", "tcp", testkit.Scanner6, "128", "2507")
	must("add", "iblock", "tcp", "2001:db8:7::", "48", "2507")
	got := sets()
	for _, want := range []string{testkit.Scanner4, testkit.Victim4, testkit.Scanner6, "2001:db8:7::/48", "ip saddr @v4 drop", "ip6 saddr @v6 drop"} {
		if !strings.Contains(got, want) {
			t.Errorf("the helper's table lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "dport") || strings.Contains(got, "2507") {
		t.Errorf("the helper's table names a port: it must drop the address on every port:\n%s", got)
	}
	must("rem", "iblock", "tcp", testkit.Scanner4, "32", "2507", "OK")
	if got := sets(); strings.Contains(got, testkit.Scanner4) || !strings.Contains(got, testkit.Victim4) {
		t.Errorf("after rem of %s:\n%s", testkit.Scanner4, got)
	}
	must("flush", "iblock")
	if got := sets(); strings.Contains(got, testkit.Victim4) || strings.Contains(got, testkit.Scanner6) {
		t.Errorf("after flush:\n%s", got)
	}
	if out, err := helper("add", "blocklistd", "tcp", testkit.Scanner4, "32", "22"); err == nil || !strings.Contains(out, "/usr/libexec/blocklistd-helper") {
		t.Errorf("a rule of another name: %v %q, want the stock helper run", err, out)
	}
}
