package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// scratchNamespace creates an empty network namespace, named after what
// and this test process, that the test alone uses and that is deleted
// when it ends; it skips without root or ip.
func scratchNamespace(t *testing.T, what string) string {
	t.Helper()
	needRoot(t)
	ip := needTool(t, "ip")
	ns := "iblock-" + what + "-" + strconv.Itoa(os.Getpid())
	mustCombined(t, exec.Command(ip, "netns", "add", ns))
	t.Cleanup(func() { exec.Command(ip, "netns", "delete", ns).Run() })
	return ns
}
