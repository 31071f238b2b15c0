package main

// "make demo": a scanner banned on any machine, without root or a packet
// filter. The trap is a loopback port, the inetd is this program, and
// pfctl is the stand-in of the tests, keeping its table in a file.

import (
	"encoding/json"
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
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o755)
	for _, name := range []string{"doas", "pfctl"} {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			return err
		}
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
	record := filepath.Join(dir, "record")
	env := []string{"IBLOCK_FAKE_STATE=" + state, "IBLOCK_FAKE_RECORD=" + record}
	doas, pfctl := filepath.Join(dir, "doas"), filepath.Join(dir, "pfctl")

	fmt.Print("\nThe trap is a port on 127.0.0.1. For each connection, this demo does what\n" +
		"inetd does: it starts iblock with the connection as stdin, stdout and stderr.\n" +
		"doas and pfctl are stand-ins; the table lives in a file.\n")
	fmt.Print("\n1. A scanner connects from 127.0.0.1. The default allowlist is loopback,\n" +
		"   so iblock never bans the machine itself:\n\n")
	if err := demoConnection(log, bin, env, "-b", "pf", "-d", doas, "-c", pfctl); err != nil {
		return err
	}
	fmt.Print("\n2. The same scanner, with an empty allowlist (-w /dev/null):\n\n")
	if err := demoConnection(log, bin, env, "-w", "/dev/null", "-b", "pf", "-d", doas, "-c", pfctl); err != nil {
		return err
	}
	fmt.Println("\n   pfctl -t iblocked -T show:")
	show := exec.Command(pfctl, "-t", "iblocked", "-T", "show")
	show.Env = env
	out, err := show.CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil {
		return err
	}
	fmt.Print("\nThe scanner is in the table. With pf.conf's \"block in quick from <iblocked>\",\n" +
		"it is now cut off from every port. See README.md to set it up for real.\n")
	return nil
}

// demoConnection runs one connection through iblock and shows what happened.
func demoConnection(log *syslogListener, bin string, env []string, args ...string) error {
	fmt.Println("   $ iblock " + strings.Join(args, " "))
	var pid, exit int
	received, err := acceptAndRun(scanner4, func(sock *os.File) error {
		cmd := exec.Command(bin, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = sock, sock, sock, env
		err := cmd.Run()
		if _, failed := err.(*exec.ExitError); err != nil && !failed {
			return err
		}
		pid, exit = cmd.Process.Pid, cmd.ProcessState.ExitCode()
		return nil
	})
	if err != nil {
		return err
	}
	lines, err := log.waitLines(pid)
	if err != nil {
		return err
	}
	for _, l := range lines {
		level := map[int]string{priNotice: "daemon.notice", priErr: "daemon.err"}[l.pri]
		fmt.Printf("   syslog %s: iblock[%d]: %s\n", level, pid, l.msg)
	}
	record := strings.TrimPrefix(env[1], "IBLOCK_FAKE_RECORD=")
	if data, err := os.ReadFile(record); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var c fakeCall
			if json.Unmarshal([]byte(line), &c) == nil && filepath.Base(c.Argv[0]) == "doas" {
				fmt.Println("   ran: doas " + strings.Join(c.Argv[1:], " "))
			}
		}
		os.Remove(record)
	}
	fmt.Printf("   exit status %d; the scanner received %d bytes\n", exit, len(received))
	return nil
}

func indent(s string) string {
	if s == "" {
		return "   (empty)\n"
	}
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}
