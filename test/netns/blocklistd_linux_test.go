//go:build blocklistd

package netns

// iblock -b blocklistd against the real blocklistd, built from NetBSD's
// blocklist sources (port/, with autotools and libdb), which CI cannot
// fetch: make test-blocklistd BLOCKLISTD=prefix runs it (doc/testing.md).

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// TestRealBlocklistdBansTheScannerOnEveryPortThroughTheHelper runs
// blocklistd with the FreeBSD example's line for the trap port and the
// Linux helper, and iblock under openbsd-inetd as nobody with -b
// blocklistd, behind the nftables example's redirect of the trap ports.
// One trap touch from each family's scanner cuts it off from the service;
// the bystander still gets through, and blocklistctl lists the scanner
// with its time left.
func TestRealBlocklistdBansTheScannerOnEveryPortThroughTheHelper(t *testing.T) {
	testkit.NeedRoot(t)
	prefix := os.Getenv("BLOCKLISTD")
	if prefix == "" {
		t.Fatal("BLOCKLISTD is the prefix blocklistd was installed in: make test-blocklistd BLOCKLISTD=/path")
	}
	n := newTestNet(t)
	n.LoadNftExample()
	// iblock runs as nobody: t.TempDir's parent is closed to others.
	dir, err := os.MkdirTemp("", "iblock-blocklistd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "blocklistd.conf")
	if err := os.WriteFile(conf, []byte(testkit.ReadExample(t, "freebsd/blacklistd.conf")), 0o644); err != nil {
		t.Fatal(err)
	}
	sock, db := filepath.Join(dir, "blocklistd.sock"), filepath.Join(dir, "blocklistd.db")
	helper := testkit.SourcePath("examples/linux/blocklistd-helper")
	// -d stays in the foreground, -f starts with no bans, -t 1 writes the
	// database every second.
	n.Start(filepath.Join(prefix, "sbin/blocklistd"), "-d", "-f", "-c", conf, "-C", helper, "-s", sock, "-D", db, "-t", "1")
	testkit.WaitUntil(t, 10*time.Second, "blocklistd's socket", func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
	n.StartInetdEdited(func(line string) string {
		line = strings.Replace(line, "\troot\t", "\tnobody\t", 1)
		return strings.Replace(line, "-d none", "-b blocklistd -c "+sock, 1)
	})
	n.Serve()
	for _, f := range testkit.Families {
		n.WantReach(f.Server, map[string]bool{f.Scanner: true, f.Bystander: true})
		start := time.Now()
		took := n.TouchTrap(f.Scanner, f.Server)
		inTable := func() bool {
			out, _ := n.Run("nft", "list", "table", "inet", "blocklistd_iblock")
			return strings.Contains(out, f.Scanner)
		}
		if !testkit.Eventually(10*time.Second, inTable) {
			t.Fatalf("the helper never banned the %s scanner; iblock said %v", f.Name, testkit.Log(t).Matching(f.Scanner))
		}
		banned := time.Since(start)
		n.WantReach(f.Server, map[string]bool{f.Scanner: false, f.Bystander: true})
		testkit.Report(t, "%s: the trap closed in %v; the helper's ban was in place %v after the touch", f.Name,
			took.Round(100*time.Microsecond), banned.Round(100*time.Microsecond))
	}
	helperSets := n.MustRun("nft", "list", "table", "inet", "blocklistd_iblock")
	for _, f := range testkit.Families {
		if !strings.Contains(helperSets, f.Scanner) || strings.Contains(helperSets, f.Bystander) {
			t.Errorf("the helper's table holds:\n%s\nwant %s and not %s", helperSets, f.Scanner, f.Bystander)
		}
	}
	blocklistctl := filepath.Join(prefix, "sbin/blocklistctl")
	var dump string
	listed := func() bool {
		dump = n.MustRun(blocklistctl, "dump", "-b", "-r", "-w", "-D", db)
		return strings.Contains(dump, testkit.Scanner4+"/32:2507") && strings.Contains(dump, testkit.Scanner6+"/128:2507")
	}
	if !testkit.Eventually(10*time.Second, listed) {
		t.Fatalf("blocklistctl dump -b lists:\n%s", dump)
	}
	for _, f := range testkit.Families {
		line := regexp.MustCompile(`(?m)^\s*iblock\s+` + regexp.QuoteMeta(f.Scanner) + `/\d+:2507\s+OK\s+1/1\s+(\S+)\s*$`).FindStringSubmatch(dump)
		if line == nil || !strings.HasPrefix(line[1], "9d23h") {
			t.Errorf("blocklistctl dump -b -r has no line for %s with about 10 days left:\n%s", f.Scanner, dump)
		} else {
			testkit.Report(t, "blocklistctl dump -b -r: %s blocked, %s left", f.Scanner, line[1])
		}
		if strings.Contains(dump, f.Bystander) {
			t.Errorf("blocklistctl lists the bystander %s:\n%s", f.Bystander, dump)
		}
	}
}
