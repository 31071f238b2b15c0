package main

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

func TestBlocklistdMessageIsLibblocklistsLayout(t *testing.T) {
	msg := blocklistdMessage(blAbuse, "trap")
	order := binary.NativeEndian
	if len(msg) != 148 || order.Uint32(msg) != 148 || order.Uint32(msg[4:]) != 1 ||
		order.Uint32(msg[8:]) != 3 || order.Uint32(msg[12:]) != 0 || string(msg[144:]) != "trap" {
		t.Errorf("message %x", msg)
	}
	for i, c := range msg[16:144] {
		if c != 0 {
			t.Fatalf("sockaddr_storage byte %d is %d, want all zero (bl_salen 0)", i, c)
		}
	}
	long := blocklistdMessage(blAbuse, strings.Repeat("x", 300))
	if len(long) != 144+128 || order.Uint32(long) != 144+128 {
		t.Errorf("a long text makes %d bytes, want it cut at 128 as bl_send does", len(long))
	}
}

func TestBlocklistdOptionsNameTheSocketAndRefuseWhatBlocklistdDecides(t *testing.T) {
	for _, tc := range []struct {
		goos string
		args []string
		want string // the socket, or the error
	}{
		{"netbsd", []string{"-b", "blocklistd"}, "/var/run/blocklistd.sock"},
		{"freebsd", []string{"-b", "blocklistd", "-c", "/var/run/blacklistd.sock"}, "/var/run/blacklistd.sock"},
		{"freebsd", []string{"-b", "blocklistd", "-d", "none", "-K"}, "/var/run/blocklistd.sock"},
		{"freebsd", []string{"-bblocklistd", "-d", "/usr/local/bin/doas"}, "-d does not apply to -b blocklistd"},
		{"netbsd", []string{"-b", "blocklistd", "-c", "blocklistd.sock"}, "-c needs an absolute path"},
		{"netbsd", []string{"-b", "blocklistd", "-6", "64"}, "-4 and -6 do not apply to -b blocklistd"},
		{"netbsd", []string{"-b", "blocklistd", "trap"}, "a table does not apply to -b blocklistd"},
	} {
		conf, err := parseArgs(tc.args, tc.goos)
		got := fmt.Sprint(err)
		if err == nil {
			got = conf.program
			if cmds := conf.backend.banCommands(conf, "192.0.2.10", false); cmds != nil {
				t.Errorf("%q runs %q, want no command", tc.args, cmds)
			}
			if conf.helper != "" {
				t.Errorf("%q: helper %q, want none", tc.args, conf.helper)
			}
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s %q: %s, want %s", tc.goos, tc.args, got, tc.want)
		}
	}
}

func TestBlocklistdSandboxUnveilsTheSocketAndMaySendADescriptorButRunNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-b", "blocklistd"}, "[{/var/run/blocklistd.sock w} {/dev/log w}] stdio unix sendfd"},
		{[]string{"-b", "blocklistd", "-n"}, "[{/dev/log w}] stdio unix"},
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
