package netns

// One list of what is yours: examples/linux/allow, installed as
// /etc/iblock/allow, is iblock's allowlist (-w) and fills the kernel-side
// rulesets' allow sets, through iblock-sets, when asked and at every
// restore.

import (
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// TestOneAllowFileFillsTheAllowSetsAndIblocksAllowlist writes the example
// allowlist with the allowlisted addresses added, fills the allow sets
// from it with iblock-sets, and runs iblock with it: a forged SYN and a
// client that waits at the trap, from each allowlisted address, ban
// nothing, and iblock says why. Emptied, the allow sets are filled again
// by a restore.
func TestOneAllowFileFillsTheAllowSetsAndIblocksAllowlist(t *testing.T) {
	eachKernelSetup(t, func(t *testing.T, k kernelSetup, n *testNet, kmsg *testkit.Kmsg) {
		allow := testkit.WriteTemp(t, "allow", testkit.ReadExample(t, "linux/allow")+
			testkit.Allowlisted4+" # monitoring\n"+"::ffff:"+testkit.Victim4+"\n"+testkit.Allowlisted6+"\n")
		sets := testkit.SourcePath("examples/linux/iblock-sets")
		backend := map[string]string{"nft": "nft", "ipset": "ipset"}[k.name]
		k.load(n)
		n.MustRun(sets, backend, "allow", allow)
		n.StartInetd(k.inetdExtra + " -w " + allow)
		n.Serve()
		n.addVictims()
		n.IPBatch(n.Scanner, "addr add "+testkit.Allowlisted4+"/32 dev veth0", "addr add "+testkit.Allowlisted6+"/128 dev veth0 nodad")
		n.IPBatch(n.Server, "route add 203.0.113.0/24 via "+testkit.Scanner4, "route add 2001:db8:ffff::/48 via "+testkit.Scanner6)
		mine := []string{testkit.Allowlisted4, testkit.Victim4, testkit.Allowlisted6}
		for _, addr := range mine {
			to := serverOf(strings.Contains(addr, ":"))
			n.SendSYNs(t, to, 23, addr)
			before := testkit.Log(t).Count("not blocking " + addr + ": allowlisted")
			if got, err := n.holdConnection(addr, to); err != nil || len(got) != 0 {
				t.Fatalf("%s at the trap: %q, %v", addr, got, err)
			}
			testkit.WaitUntil(t, 5*time.Second, "iblock's line for "+addr, func() bool {
				return testkit.Log(t).Count("not blocking "+addr+": allowlisted") > before
			})
		}
		for _, addr := range mine {
			got, lines := k.banLength(n, addr), kmsg.Lines("iblock-", n.KmsgMAC(), testkit.KmsgSrc(addr))
			if got != "" || len(lines) > 0 {
				t.Errorf("%s, in the allow file: banned %q, kernel lines %q", addr, got, lines)
			}
		}
		// A reload empties the allow sets; the restore that follows it
		// fills them again from the file.
		for _, set := range []string{k.allowSet, k.allowSet + "6"} {
			if k.name == "nft" {
				n.MustRun("nft", "flush", "set", "inet", "iblock", set)
			} else {
				n.MustRun("ipset", "flush", set)
			}
		}
		saved := t.TempDir() + "/sets"
		restore := n.Command("env", "IBLOCK_ALLOW="+allow, sets, backend, "restore", saved)
		if out, err := restore.CombinedOutput(); err != nil {
			t.Fatalf("iblock-sets %s restore: %v\n%s", backend, err, out)
		}
		for _, addr := range append(mine, "127.0.0.1", "::1") {
			if !k.allowHas(n, addr) {
				t.Errorf("after a restore, the allow set of %s lacks it: %q", addr, k.list(n, testkit.SetName(k.allowSet, strings.Contains(addr, ":"))))
			}
		}
		testkit.Report(t, "allow sets filled from the file: %q, %q", k.list(n, k.allowSet), k.list(n, k.allowSet+"6"))
	})
}

// allowHas reports whether the allow set of addr's family covers it.
func (k kernelSetup) allowHas(n *testNet, addr string) bool {
	set := testkit.SetName(k.allowSet, strings.Contains(addr, ":"))
	if k.name == "nft" {
		_, err := n.Run("nft", "get", "element", "inet", "iblock", set, "{ "+addr+" }")
		return err == nil
	}
	_, err := n.Run("ipset", "test", set, addr)
	return err == nil
}
