package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// TestRealFullSetIsSaidInWords fills a one-element set of the real nft and
// of the real ipset in a network namespace of the test's own, then runs
// iblock there for a loopback connection: the add fails, and the log says
// that the set is full. It checks what the installed programs print, which
// the fakes copy.
func TestRealFullSetIsSaidInWords(t *testing.T) {
	testkit.NeedRoot(t)
	ip := testkit.NeedTool(t, "ip")
	for _, tc := range []struct{ backend, setup, full string }{
		{"nft", "add table inet iblock\n" +
			"add set inet iblock iblocked { type ipv4_addr; size 1; flags dynamic, timeout; timeout 10d; }\n" +
			"add element inet iblock iblocked { 192.0.2.1 }\n",
			"Error: Could not process rule: Too many open files in system; set iblocked is full, 127.0.0.1 is not banned"},
		{"ipset", "create iblocked hash:net family inet timeout 864000 maxelem 1\nadd iblocked 192.0.2.1\n",
			"Hash is full, cannot add more elements; set iblocked is full, 127.0.0.1 is not banned"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			program := "/usr/sbin/" + tc.backend
			if _, err := os.Stat(program); err != nil {
				testkit.SkipOrFail(t, "iblock runs "+program+": "+err.Error())
			}
			ns := testkit.NewNamespace(t, "full-"+tc.backend)
			read := []string{"-f", "-"} // how each reads commands from stdin
			if tc.backend == "ipset" {
				read = []string{"restore"}
			}
			load := exec.Command(ip, append([]string{"netns", "exec", ns, program}, read...)...)
			load.Stdin = strings.NewReader(tc.setup)
			testkit.MustCombined(t, load)
			// iblock reads the peer from a connection on the host's
			// loopback; the firewall it changes is the namespace's.
			fk := testkit.NewFakeDir(t)
			c := testkit.RunInetd(t, ip, fk, testkit.Loopback4, "netns", "exec", ns, testkit.Iblock(t),
				"-w", "/dev/null", "-b", tc.backend, "-d", "none", "-c", program)
			c.WantExit(t, exitFailure)
			wantOneError(t, c, tc.full)
		})
	}
}
