package examples

// Checks of examples/linux with the tools that read them: nft -c,
// systemd-analyze, nix-instantiate, and iblock-sets against real sets.

import (
	"encoding/base64"
	"encoding/hex"
	"math/bits"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// TestExampleNftRulesetsPassNftCheckAndReloadWithoutLosingBans loads the
// kernel-side ruleset and the one for iblock alone, each after the other
// and again: bans and allow set elements stay, rules do not pile up.
func TestExampleNftRulesetsPassNftCheckAndReloadWithoutLosingBans(t *testing.T) {
	n := testkit.NewNet(t)
	nft := testkit.NeedTool(t, "nft")
	for _, name := range []string{"iblock.nft", "iblock-only.nft"} {
		n.MustRun(nft, "-c", "-f", "examples/linux/"+name)
	}
	n.LoadKernelNft()
	rules := n.MustRun(nft, "list", "table", "inet", "iblock")
	n.MustRun(nft, "add", "element", "inet", "iblock", "iblocked", "{ "+testkit.Scanner4+" }")
	n.MustRun(nft, "add", "element", "inet", "iblock", "syn_banned", "{ "+testkit.Victim4+" }")
	n.MustRun(nft, "add", "element", "inet", "iblock", "allowed", "{ "+testkit.Allowlisted4+" }")
	n.LoadNftExample()
	testkit.WantElements(t, "iblocked", n.NftSet("iblocked"), testkit.Scanner4)
	n.LoadKernelNft()
	n.LoadKernelNft()
	testkit.WantElements(t, "iblocked", n.NftSet("iblocked"), testkit.Scanner4)
	testkit.WantElements(t, "syn_banned", n.NftSet("syn_banned"), testkit.Victim4)
	if !n.NftHas("allowed", testkit.Allowlisted4) {
		t.Errorf("a reload lost the allow set's element %s: %q", testkit.Allowlisted4, n.NftSet("allowed"))
	}
	withoutElements := regexp.MustCompile(`(?s)\s*elements = \{.*?\}`)
	again := n.MustRun(nft, "list", "table", "inet", "iblock")
	if a, b := withoutElements.ReplaceAllString(again, ""), withoutElements.ReplaceAllString(rules, ""); a != b {
		t.Errorf("after reloads the table differs from the first load:\n%s\nwant\n%s", a, b)
	}
}

// TestExampleNixModuleParsesAndCarriesTheSameRuleset checks that the NixOS
// module loads the kernel-side ruleset file itself, saves and restores
// the sets with iblock-sets, whose tests prove it, and runs iblock as the
// fixed user iblock, as iblock@.service does for the fleet's journal filter.
func TestExampleNixModuleParsesAndCarriesTheSameRuleset(t *testing.T) {
	nixInstantiate := testkit.NeedTool(t, "nix-instantiate")
	if out, err := exec.Command(nixInstantiate, "--parse", "examples/linux/iblock.nix").CombinedOutput(); err != nil {
		t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
	}
	nix := testkit.ReadExample(t, "linux/iblock.nix")
	for _, want := range []string{
		"networking.nftables.ruleset = builtins.readFile ./iblock/examples/linux/iblock.nft;",
		`sets = "${./iblock/examples/linux/iblock-sets}";`,
		`ExecStart = "-${sets} nft restore";`, `ExecStop = "-${sets} nft save";`, `ExecStart = "${sets} nft save";`,
		`User = "iblock";`, `users.users.iblock = {`,
	} {
		if !strings.Contains(nix, want) {
			t.Errorf("iblock.nix lacks %s", want)
		}
	}
	if strings.Contains(nix, "DynamicUser = true") {
		t.Error("iblock.nix runs iblock as a dynamic user, whose lines the fleet cannot tell from anyone's")
	}
}

// TestExampleNixModuleVendorHashMatchesTheModules computes the hash
// buildGoModule checks: nix's hash of what "go mod vendor" writes.
func TestExampleNixModuleVendorHashMatchesTheModules(t *testing.T) {
	nixHash := testkit.NeedTool(t, "nix-hash")
	vendor := filepath.Join(t.TempDir(), "vendor")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goTool, "mod", "vendor", "-o", vendor).CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	out, err := exec.Command(nixHash, "--type", "sha256", vendor).Output()
	sum, herr := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil || herr != nil {
		t.Fatalf("nix-hash: %v %v %q", err, herr, out)
	}
	want := `vendorHash = "sha256-` + base64.StdEncoding.EncodeToString(sum) + `";`
	if nix := testkit.ReadExample(t, "linux/iblock.nix"); !strings.Contains(nix, want) {
		t.Errorf("iblock.nix lacks %s", want)
	}
}

// TestExampleUnitsPassSystemdAnalyze verifies the units, a socket with
// its service and a timer with its own, which checks that the programs
// they run are there: units whose programs are not installed
// (iblock-iptables.service without ipset) are skipped.
func TestExampleUnitsPassSystemdAnalyze(t *testing.T) {
	analyze := testkit.NeedTool(t, "systemd-analyze")
	dir := t.TempDir()
	sets, _ := filepath.Abs("examples/linux/iblock-sets")
	for _, units := range [][]string{{"iblock.socket", "iblock@.service"}, {"iblock-iptables.service"}, {"iblock-save@.service", "iblock-save@.timer"}} {
		var missing []string
		for _, name := range units {
			text := testkit.ExampleWithPaths(t, "linux/"+name)
			text = strings.ReplaceAll(text, "/usr/local/sbin/iblock-sets", sets)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			missing = append(missing, missingPrograms(text)...)
		}
		t.Run(strings.Join(units, " "), func(t *testing.T) {
			if len(missing) > 0 {
				testkit.SkipOrFail(t, strings.Join(units, " and ")+" run "+strings.Join(missing, ", ")+": not installed")
			}
			verify := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...)
			verify.Dir = dir
			if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}
	// 1.5 is "OK" on systemd's scale, from 0 (locked down) to 10.
	security := exec.Command(analyze, "security", "--offline=true", "--threshold=15", "iblock@.service")
	security.Dir = dir
	out, err := security.CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`Overall exposure level for \S+: (\S+)`).FindSubmatch(out); m != nil {
		testkit.Report(t, "systemd-analyze security exposure of iblock@.service: %s", m[1])
	}
}

// missingPrograms returns the programs that a unit's Exec lines name and
// that are not installed.
func missingPrograms(unit string) []string {
	var missing []string
	for _, line := range strings.Split(unit, "\n") {
		key, value, _ := strings.Cut(line, "=")
		fields := strings.Fields(strings.TrimLeft(value, "-@:+!|"))
		if !strings.HasPrefix(key, "Exec") || len(fields) == 0 || slices.Contains(missing, fields[0]) {
			continue
		}
		if _, err := os.Stat(fields[0]); err != nil {
			missing = append(missing, fields[0])
		}
	}
	return missing
}

// TestExampleIblockSetsSavesAndRestoresTheSets saves real sets of the
// kernel-side rulesets, empties them and restores them, for nft and ipset:
// a long ban keeps its remaining time, a short one is not saved, and an
// address added to the allow set at run time is back. A save that fails
// keeps the last good file.
func TestExampleIblockSetsSavesAndRestoresTheSets(t *testing.T) {
	n := testkit.NewNet(t)
	script, _ := filepath.Abs("examples/linux/iblock-sets")
	for _, tc := range []struct {
		backend   string
		load      func()
		add       [][]string
		empty     [][]string
		list      func(string) []string
		sets      [3]string // long bans, short bans, allowed
		remaining string    // 20 minutes left, not more
		drop      [][]string
	}{
		{"nft", n.LoadKernelNft,
			[][]string{
				{"nft", "add", "element", "inet", "iblock", "iblocked", "{ 192.0.2.10 timeout 1h expires 20m }"},
				{"nft", "add", "element", "inet", "iblock", "syn_banned", "{ 192.0.2.30 expires 20m }"},
				{"nft", "add", "element", "inet", "iblock", "allowed", "{ " + testkit.Allowlisted4 + " }"}},
			[][]string{{"nft", "flush", "set", "inet", "iblock", "iblocked"},
				{"nft", "flush", "set", "inet", "iblock", "syn_banned"},
				{"nft", "flush", "set", "inet", "iblock", "allowed"}},
			n.NftSet, [3]string{"iblocked", "syn_banned", "allowed"}, `expires 1\dm`,
			[][]string{{"nft", "delete", "table", "inet", "iblock"}}},
		{"ipset", n.LoadKernelIpset,
			[][]string{{"ipset", "add", "iblocked", "192.0.2.10", "timeout", "1200"},
				{"ipset", "add", "iblock_syn", "192.0.2.30", "timeout", "1200"},
				{"ipset", "add", "iblock_allow", testkit.Allowlisted4}},
			[][]string{{"ipset", "flush", "iblocked"}, {"ipset", "flush", "iblock_syn"}, {"ipset", "flush", "iblock_allow"}},
			n.IpsetSet, [3]string{"iblocked", "iblock_syn", "iblock_allow"}, `timeout 1[01]\d\d\b`,
			// The rules use the sets: they go first.
			[][]string{{"iptables", "-t", "raw", "-F"}, {"iptables", "-t", "mangle", "-F"}, {"iptables", "-t", "nat", "-F"},
				{"ip6tables", "-t", "raw", "-F"}, {"ip6tables", "-t", "mangle", "-F"}, {"ip6tables", "-t", "nat", "-F"},
				{"ipset", "destroy"}}},
	} {
		saved := filepath.Join(t.TempDir(), "sets")
		tc.load()
		for _, cmd := range tc.add {
			n.MustRun(cmd...)
		}
		n.MustRun(script, tc.backend, "save", saved)
		for _, cmd := range tc.empty {
			n.MustRun(cmd...)
		}
		n.MustRun(script, tc.backend, "restore", saved)
		got := tc.list(tc.sets[0])
		testkit.WantElements(t, tc.backend+" "+tc.sets[0], got, "192.0.2.10")
		// 20 minutes were left at the save: a restore that started the
		// element's timeout again would show more.
		if len(got) == 1 && !regexp.MustCompile(tc.remaining).MatchString(got[0]) {
			t.Errorf("%s: the restored element did not keep its remaining time: %q", tc.backend, got[0])
		}
		if short := tc.list(tc.sets[1]); len(short) != 0 {
			t.Errorf("%s: the short bans were saved: %q", tc.backend, short)
		}
		if allowed := strings.Join(tc.list(tc.sets[2]), " "); !strings.Contains(allowed, testkit.Allowlisted4) || !strings.Contains(allowed, "127.0.0.0/8") {
			t.Errorf("%s: the restored allow set holds %q", tc.backend, allowed)
		}
		before, _ := os.ReadFile(saved)
		for _, cmd := range tc.drop {
			n.MustRun(cmd...)
		}
		if out, err := n.Run(script, tc.backend, "save", saved); err == nil {
			t.Errorf("%s: save without sets succeeded: %s", tc.backend, out)
		}
		if after, _ := os.ReadFile(saved); string(after) != string(before) {
			t.Errorf("%s: a failed save changed the saved file", tc.backend)
		}
		if left, _ := filepath.Glob(saved + ".??????"); len(left) > 0 {
			t.Errorf("%s: a failed save left its temporary file %q", tc.backend, left)
		}
	}
}

// TestManPageNftTablePassesNftCheck checks the table iblock.8 shows.
func TestManPageNftTablePassesNftCheck(t *testing.T) {
	data, _ := os.ReadFile("iblock.8")
	m := regexp.MustCompile(`(?s)\n(table inet iblock \{.*?\n\})\n`).FindSubmatch(data)
	if m == nil {
		t.Fatal("iblock.8 shows no nftables table")
	}
	path := filepath.Join(t.TempDir(), "man.nft")
	os.WriteFile(path, []byte("define trap_ports = { 23, 445 }\ndefine v6_mask = ffff:ffff:ffff:ffff::\n"+string(m[1])+"\n"), 0o644)
	n := testkit.NewNet(t)
	n.MustRun(testkit.NeedTool(t, "nft"), "-c", "-f", path)
}

// TestExampleMasksAgreeWithIblocksPrefixLengths checks that the rulesets'
// masks are the prefix lengths the shipped iblock command lines ban: nft
// gets a network as its address, and only the mask makes it a network.
func TestExampleMasksAgreeWithIblocksPrefixLengths(t *testing.T) {
	prefix := map[string]int{"-4": 32, "-6": 128}
	var lines []string
	for _, l := range testkit.ExampleLines(t, "linux/inetd.conf") {
		lines = append(lines, strings.Join(strings.Fields(l)[6:], " "))
	}
	lines = append(lines, testkit.UnitSettings(t, "linux/iblock@.service")["ExecStart"])
	nix := testkit.ReadExample(t, "linux/iblock.nix")
	lines = append(lines, regexp.MustCompile(`ExecStart = "([^"]*)"`).FindStringSubmatch(nix)[1])
	for _, line := range lines {
		f := strings.Fields(line)
		for i := range f[:len(f)-1] {
			if _, ok := prefix[f[i]]; ok && f[i+1] != strconv.Itoa(prefix[f[i]]) {
				t.Errorf("%q bans /%s, the rulesets' masks are /%d", line, f[i+1], prefix[f[i]])
			}
		}
	}
	for _, name := range []string{"iblock.nft", "iblock-only.nft"} {
		text := testkit.ExampleWithPaths(t, "linux/"+name)
		for flag, define := range map[string]string{"-4": "v4_mask", "-6": "v6_mask"} {
			m := regexp.MustCompile(`(?m)^define ` + define + ` = (\S+)$`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("%s does not define %s", name, define)
			}
			mask := netip.MustParseAddr(m[1]).AsSlice()
			ones := 0
			for _, b := range mask {
				ones += bits.OnesCount8(b)
			}
			if ones != prefix[flag] {
				t.Errorf("%s: %s is /%d, iblock's %s is %d", name, define, ones, flag, prefix[flag])
			}
		}
	}
}
