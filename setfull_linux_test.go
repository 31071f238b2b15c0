package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRealFullSetIsSaidInWords fills a one-element set of the real nft and
// of the real ipset in a network namespace of the test's own, then runs
// iblock there for a loopback connection: the add fails, and the log says
// that the set is full. It checks what the installed programs print, which
// the fakes copy.
func TestRealFullSetIsSaidInWords(t *testing.T) {
	needRoot(t)
	ip := needTool(t, "ip")
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
				skipOrFail(t, "iblock runs "+program+": "+err.Error())
			}
			ns := scratchNamespace(t, "full-"+tc.backend)
			read := []string{"-f", "-"} // how each reads commands from stdin
			if tc.backend == "ipset" {
				read = []string{"restore"}
			}
			load := exec.Command(ip, append([]string{"netns", "exec", ns, program}, read...)...)
			load.Stdin = strings.NewReader(tc.setup)
			mustCombined(t, load)
			// iblock reads the peer from a connection on the host's
			// loopback; the firewall it changes is the namespace's.
			fk := newFakeDir(t)
			c := runInetd(t, ip, fk, scanner4, "netns", "exec", ns, iblockBin,
				"-w", "/dev/null", "-b", tc.backend, "-d", "none", "-c", program)
			c.wantExit(t, exitFailure)
			c.wantOneError(t, tc.full)
		})
	}
}
