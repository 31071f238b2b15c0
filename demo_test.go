package main

// "make demo": a scanner banned on any machine, without root or a packet
// filter. The trap is a loopback port, the inetd is this program, and doas
// and pfctl are the stand-ins of the tests, run through the tests' own
// harness (internal/testkit: fakes.go, harness.go).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

func demo() int {
	if err := runDemo(); err != nil {
		fmt.Println("demo failed:", err)
		return 1
	}
	return 0
}

func runDemo() error {
	dir, err := os.MkdirTemp("", "iblock-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fk, err := testkit.MakeFakeDir(dir)
	if err != nil {
		return err
	}
	log, err := testkit.ListenSyslog(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	defer log.Close()
	bin := filepath.Join(dir, "iblock")
	fmt.Println("Building iblock ...")
	if err := testkit.Build(bin, log.Path); err != nil {
		return err
	}
	args := []string{"-b", "pf", "-d", fk.Path("doas"), "-c", fk.Path("pfctl")}

	fmt.Print("\nThe trap is a port on 127.0.0.1. For each connection, this demo does what\n" +
		"inetd does: it starts iblock with the connection as stdin, stdout and stderr.\n" +
		"doas and pfctl are stand-ins; the table lives in a file.\n")
	fmt.Print("\n1. A scanner connects from 127.0.0.1. The default allowlist is loopback,\n" +
		"   so iblock does not ban a connection over loopback:\n\n")
	if err := demoConnection(log, bin, fk, args...); err != nil {
		return err
	}
	fmt.Print("\n2. The same scanner, with an empty allowlist (-w /dev/null):\n\n")
	if err := demoConnection(log, bin, fk, append([]string{"-w", "/dev/null"}, args...)...); err != nil {
		return err
	}
	fmt.Println("\n   pfctl -t iblocked -T show:")
	out, err := exec.Command(fk.Path("pfctl"), "-t", "iblocked", "-T", "show").CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil {
		return err
	}
	fmt.Print("\nThe scanner is in the table. With pf.conf's \"block in quick from <iblocked>\",\n" +
		"it is now cut off from every port. See README.md to set it up for real.\n")
	return nil
}

// demoConnection runs one connection through iblock and shows what happened.
func demoConnection(log *testkit.Syslogd, bin string, fk *testkit.FakeDir, args ...string) error {
	fmt.Println("   $ iblock " + strings.Join(args, " "))
	var c testkit.Connection
	received, err := testkit.AcceptAndRun(testkit.Loopback4, func(sock *os.File) (err error) {
		c, err = testkit.RunIblock(bin, fk, sock, sock, args...)
		return err
	})
	if err != nil {
		return err
	}
	lines, err := log.Lines(c.Pid, 0) // the demo's own syslogd: no pid is reused
	if err != nil {
		return err
	}
	for _, l := range lines {
		level := map[int]string{priNotice: "daemon.notice", priErr: "daemon.err"}[l.Pri]
		fmt.Printf("   syslog %s: iblock[%d]: %s\n", level, c.Pid, l.Msg)
	}
	calls, err := fk.ReadCalls()
	if err != nil {
		return err
	}
	for _, call := range calls {
		if filepath.Base(call.Argv[0]) == "doas" {
			fmt.Println("   ran: doas " + strings.Join(call.Argv[1:], " "))
		}
	}
	fmt.Printf("   exit status %d; the scanner received %d bytes\n", c.Exit, len(received))
	return nil
}

func indent(s string) string {
	if s == "" {
		return "   (empty)\n"
	}
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}

func TestDemoShowsAScannerBanned(t *testing.T) {
	testkit.Slow(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "IBLOCK_DEMO=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"not blocking 127.0.0.1: allowlisted",
		"syslog daemon.notice: iblock[",
		"]: blocking 127.0.0.1\n",
		"-t iblocked -T add 127.0.0.1\n",
		"the scanner received 0 bytes",
		"pfctl -t iblocked -T show:\n      127.0.0.1\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
