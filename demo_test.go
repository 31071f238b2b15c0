package main

// "make demo": a scanner banned on any machine, without root or a packet
// filter. The trap is a loopback port, the inetd is this program, and doas
// and pfctl are the stand-ins of the tests (fake_test.go), run through the
// tests' own harness (harness_test.go).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	fk, err := makeFakeDir(dir)
	if err != nil {
		return err
	}
	log, err := listenSyslog(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	defer log.close()
	bin := filepath.Join(dir, "iblock")
	fmt.Println("Building iblock ...")
	if err := buildIblock(bin, log.path); err != nil {
		return err
	}
	args := []string{"-b", "pf", "-d", fk.path("doas"), "-c", fk.path("pfctl")}

	fmt.Print("\nThe trap is a port on 127.0.0.1. For each connection, this demo does what\n" +
		"inetd does: it starts iblock with the connection as stdin, stdout and stderr.\n" +
		"doas and pfctl are stand-ins; the table lives in a file.\n")
	fmt.Print("\n1. A scanner connects from 127.0.0.1. The default allowlist is loopback,\n" +
		"   so iblock never bans the machine itself:\n\n")
	if err := demoConnection(log, bin, fk, args...); err != nil {
		return err
	}
	fmt.Print("\n2. The same scanner, with an empty allowlist (-w /dev/null):\n\n")
	if err := demoConnection(log, bin, fk, append([]string{"-w", "/dev/null"}, args...)...); err != nil {
		return err
	}
	fmt.Println("\n   pfctl -t iblocked -T show:")
	out, err := exec.Command(fk.path("pfctl"), "-t", "iblocked", "-T", "show").CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil {
		return err
	}
	fmt.Print("\nThe scanner is in the table. With pf.conf's \"block in quick from <iblocked>\",\n" +
		"it is now cut off from every port. See README.md to set it up for real.\n")
	return nil
}

// demoConnection runs one connection through iblock and shows what happened.
func demoConnection(log *syslogListener, bin string, fk *fakeDir, args ...string) error {
	fmt.Println("   $ iblock " + strings.Join(args, " "))
	var c connection
	received, err := acceptAndRun(scanner4, func(sock *os.File) (err error) {
		c, err = runIblock(bin, fk, sock, sock, args...)
		return err
	})
	if err != nil {
		return err
	}
	lines, err := log.waitLines(c.pid, 0) // the demo's own syslogd: no pid is reused
	if err != nil {
		return err
	}
	for _, l := range lines {
		level := map[int]string{priNotice: "daemon.notice", priErr: "daemon.err"}[l.pri]
		fmt.Printf("   syslog %s: iblock[%d]: %s\n", level, c.pid, l.msg)
	}
	calls, err := fk.readCalls()
	if err != nil {
		return err
	}
	for _, call := range calls {
		if filepath.Base(call.Argv[0]) == "doas" {
			fmt.Println("   ran: doas " + strings.Join(call.Argv[1:], " "))
		}
	}
	fmt.Printf("   exit status %d; the scanner received %d bytes\n", c.exit, len(received))
	return nil
}

func indent(s string) string {
	if s == "" {
		return "   (empty)\n"
	}
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}
