package main

import (
	"fmt"
	"testing"
)

func TestSandboxUnveilsOnlyWhatIsExecutedAndTheLogSocket(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "[{/usr/bin/doas x} {/dev/log w}] stdio proc exec unix"},
		{[]string{"-d", "none"}, "[{/sbin/pfctl x} {/dev/log w}] stdio proc exec unix"},
		{[]string{"-d", "none", "-c", "/usr/local/sbin/pfctl"}, "[{/usr/local/sbin/pfctl x} {/dev/log w}] stdio proc exec unix"},
		{[]string{"-d", "/usr/local/bin/doas", "-b", "npf"}, "[{/usr/local/bin/doas x} {/dev/log w}] stdio proc exec unix"},
		{[]string{"-n"}, "[{/dev/log w}] stdio unix"},
	} {
		conf, err := parseArgs(tc.args, "openbsd")
		if err != nil {
			t.Fatal(err)
		}
		plan := planSandbox(conf, "openbsd")
		if got := fmt.Sprint(plan.unveils, " ", plan.promises); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestSyslogSocketIsWhereEachSystemListens(t *testing.T) {
	// The test binary itself is built without -X main.syslogSocket.
	for goos, want := range map[string]string{"openbsd": "/dev/log", "linux": "/dev/log", "freebsd": "/var/run/log", "netbsd": "/var/run/log"} {
		if got := syslogPath(goos); got != want {
			t.Errorf("%s: %s", goos, got)
		}
	}
}
