package boot

// iblock installed the two ways doc/linux.md says, each followed by the
// page's own lines: the Debian package with apt-get, or make install;
// then an upgrade, a removal and a purge of the package.

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// The versions the tests build: an install, and the upgrade to the next.
const (
	installVersion = "1.0.0"
	upgradeVersion = "1.0.1"
)

// linuxDoc returns doc/linux.md.
func linuxDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("doc/linux.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// docSection returns the text of doc/linux.md under a heading of any
// level, up to the next heading.
func docSection(t *testing.T, heading string) string {
	t.Helper()
	_, text, ok := strings.Cut(linuxDoc(t), " "+heading+"\n")
	if !ok {
		t.Fatalf("doc/linux.md has no section %q", heading)
	}
	if i := regexp.MustCompile(`(?m)^#`).FindStringIndex(text); i != nil {
		text = text[:i[0]]
	}
	return text
}

// docLines returns the commands of the first indented block of a section
// of doc/linux.md.
func docLines(t *testing.T, heading string) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(docSection(t, heading), "\n") {
		if cmd, ok := strings.CutPrefix(line, "    "); ok {
			lines = append(lines, cmd)
		} else if len(lines) > 0 && line != "" {
			break
		}
	}
	if len(lines) == 0 {
		t.Fatalf("the section %q of doc/linux.md has no commands", heading)
	}
	return lines
}

// wantDocLines fails the test unless the doc's block begins with want,
// and returns the rest of it.
func wantDocLines(t *testing.T, heading string, want ...string) []string {
	t.Helper()
	lines := docLines(t, heading)
	if len(lines) < len(want) || !slices.Equal(lines[:len(want)], want) {
		t.Fatalf("the section %q of doc/linux.md begins with %q, want %q", heading, lines, want)
	}
	return lines[len(want):]
}

// installPackage installs deb in the booted system with the apt-get line
// of doc/linux.md, and returns what apt-get printed.
func installPackage(t *testing.T, c *container, deb string) string {
	t.Helper()
	rest := wantDocLines(t, "The Debian package", "make deb", "apt-get install ./iblock_*.deb")
	if len(rest) != 0 {
		t.Fatalf("doc/linux.md has more lines after apt-get: %q", rest)
	}
	return c.AptInstall(deb)
}

// switchOn runs the lines of doc/linux.md that switch the trap on, with
// the include of a make install under prefix, as root types them.
func switchOn(t *testing.T, c *container, prefix string) {
	t.Helper()
	script := strings.Join(docLines(t, "Switching the trap on"), "\n")
	if !strings.Contains(script, `"/usr/share/iblock/nft/*.nft"`) {
		t.Fatalf("doc/linux.md's lines include no /usr/share/iblock/nft/*.nft:\n%s", script)
	}
	c.Shell(strings.ReplaceAll(script, "/usr/share/iblock/", prefix+"/share/iblock/"))
}

// TestPackageThenTheDocsLinesSwitchTheTrapOn installs the package in a
// booted system and switches the trap on as doc/linux.md says: nothing is
// trapped before those lines, a scanner is banned after them.
func TestPackageThenTheDocsLinesSwitchTheTrapOn(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.Slow(t)
	deb := testkit.BuildDeb(t, installVersion)
	root := testkit.OverlayRoot(t)
	n := newTestNet(t)
	c := bootContainer(t, n, root)
	installPackage(t, c, deb)
	if out, _ := c.Run("nft", "list", "tables"); strings.Contains(out, "iblock") {
		t.Errorf("the package loaded the ruleset before the administrator's lines:\n%s", out)
	}
	if state, _ := c.Run("systemctl", "is-active", "iblock.socket"); strings.TrimSpace(state) == "active" {
		t.Error("the package started iblock.socket before the administrator's lines")
	}
	if id := strings.TrimSpace(c.MustRun("id", "-u", "iblock")); id == "" || id == "0" {
		t.Errorf("the package made no system user iblock: %q", id)
	}
	switchOn(t, c, "/usr")
	n.Serve()
	for _, f := range testkit.Families {
		n.WantScannerBannedAlone(f, n.NftSet, "the package, switched on as doc/linux.md says")
		e := c.waitJournal("iblock", "blocking "+f.Scanner)
		wantIblockUser(t, c, e["_UID"])
	}
}

// TestMakeInstallThenTheDocsLinesSwitchTheTrapOn installs with make
// install into a booted system, runs doc/linux.md's lines after it and
// those that switch the trap on, and expects a scanner banned.
func TestMakeInstallThenTheDocsLinesSwitchTheTrapOn(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.Slow(t)
	root := testkit.OverlayRoot(t)
	n := newTestNet(t)
	c := bootContainer(t, n, root)
	rest := wantDocLines(t, "make install, without dpkg", "make", "make install")
	testkit.MakeInstall(t, root)
	c.Shell(strings.Join(rest, "\n"))
	switchOn(t, c, "/usr/local")
	n.Serve()
	for _, f := range testkit.Families {
		n.WantScannerBannedAlone(f, n.NftSet, "make install, switched on as doc/linux.md says")
		e := c.waitJournal("iblock", "blocking "+f.Scanner)
		wantIblockUser(t, c, e["_UID"])
	}
	if state := strings.TrimSpace(c.MustRun("systemctl", "is-active", "iblock-save@nft.timer")); state != "active" {
		t.Errorf("iblock-save@nft.timer is %s", state)
	}
}

// TestPackagePassesLintian runs lintian on the package: no error.
func TestPackagePassesLintian(t *testing.T) {
	lintian := testkit.NeedTool(t, "lintian")
	deb := testkit.BuildDeb(t, installVersion)
	out, err := exec.Command(lintian, "--fail-on", "error", "--no-tag-display-limit", deb).CombinedOutput()
	var tags []string
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`^[EWIPX]: `).MatchString(line) {
			tags = append(tags, line)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	testkit.Report(t, "lintian: no error, %d other tags: %q", len(tags), tags)
}

// packageFiles returns the files of a package, without the leading "./".
func packageFiles(t *testing.T, deb string) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	testkit.MustCombined(t, exec.Command(testkit.NeedTool(t, "dpkg-deb"), "-x", deb, dir))
	return treeFiles(t, dir)
}

// treeFiles returns the regular files below dir, relative to it.
func treeFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files[rel] = true
		}
		return nil
	})
	return files
}

// packageOnly are the files that make deb adds to what make install
// installs: the documentation Debian asks of every package.
var packageOnly = []string{"usr/share/doc/iblock/README.Debian", "usr/share/doc/iblock/copyright",
	"usr/share/doc/iblock/changelog.gz", "usr/share/lintian/overrides/iblock"}

// TestMakeInstallInstallsWhatThePackageInstalls compares make install
// with the package's PREFIX and BINDIR to the package, file by file, and
// checks that every program the installed units and inetd.conf name is
// installed where they say, for the package and for make install's
// defaults.
func TestMakeInstallInstallsWhatThePackageInstalls(t *testing.T) {
	deb := testkit.BuildDeb(t, installVersion)
	pkg := packageFiles(t, deb)
	dest := t.TempDir()
	testkit.MakeInstall(t, dest, "PREFIX=/usr", "BINDIR=/usr/sbin")
	installed := treeFiles(t, dest)
	for f := range pkg {
		want := strings.TrimSuffix(f, ".gz")
		if !installed[want] && !slices.Contains(packageOnly, f) {
			t.Errorf("the package installs %s, make install does not", f)
		}
	}
	for f := range installed {
		if !pkg[f] && !pkg[f+".gz"] {
			t.Errorf("make install installs %s, the package does not", f)
		}
	}
	wantNamedProgramsInstalled(t, dest, "/usr/lib/systemd/system", "/usr/share/doc/iblock/examples/inetd.conf")
	local := t.TempDir()
	testkit.MakeInstall(t, local)
	wantNamedProgramsInstalled(t, local, "/usr/local/lib/systemd/system", "/usr/local/share/doc/iblock/examples/inetd.conf")
}

// programPath matches the absolute paths of iblock's programs in units
// and inetd.conf lines.
var programPath = regexp.MustCompile(`/[^\s'"]*/iblock(-sets)?\b`)

// wantNamedProgramsInstalled fails the test unless every iblock program
// named by the units in unitDir (and their drop-ins) and by the
// inetd.conf lines is installed below root.
func wantNamedProgramsInstalled(t *testing.T, root, unitDir, inetd string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, unitDir, "*"))
	dropIns, _ := filepath.Glob(filepath.Join(root, unitDir, "*.d", "*.conf"))
	named := 0
	for _, f := range append(append(files, dropIns...), filepath.Join(root, inetd)) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a directory of drop-ins
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, p := range programPath.FindAllString(line, -1) {
				if strings.HasPrefix(p, "/etc/") || strings.HasPrefix(p, "/var/") {
					continue
				}
				named++
				if _, err := os.Stat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s names %s, which make install did not install", path.Base(f), p)
				}
			}
		}
	}
	if named < 8 {
		t.Errorf("the units and inetd.conf below %s name %d programs of iblock, want 8 or more", root, named)
	}
}

// docFiles returns the files the table of doc/linux.md's section on the
// package lists: a cell's first path is absolute, and names after it
// are in the same directory.
func docFiles(t *testing.T) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	quoted := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(docSection(t, "The Debian package"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		dir := ""
		for _, m := range quoted.FindAllStringSubmatch(cells[1], -1) {
			name := m[1]
			if strings.HasPrefix(name, "/") {
				dir = path.Dir(name)
			} else {
				name = dir + "/" + name
			}
			files[strings.TrimPrefix(name, "/")] = true
		}
	}
	return files
}

// TestLinuxDocInstallsWhatThePackageInstalls holds doc/linux.md's table
// of installed files to the package, file for file, and its lines to
// the commands the booted tests run (make deb, apt-get, make install).
func TestLinuxDocInstallsWhatThePackageInstalls(t *testing.T) {
	pkg := packageFiles(t, testkit.BuildDeb(t, installVersion))
	doc := docFiles(t)
	for f := range pkg {
		if !doc[f] && !slices.Contains(packageOnly, f) {
			t.Errorf("doc/linux.md does not list /%s, which the package installs", f)
		}
	}
	for f := range doc {
		if !pkg[f] {
			t.Errorf("doc/linux.md lists /%s, which the package does not install", f)
		}
	}
	wantDocLines(t, "The Debian package", "make deb", "apt-get install ./iblock_*.deb")
	wantDocLines(t, "make install, without dpkg", "make", "make install")
	on := strings.Join(docLines(t, "Switching the trap on"), "\n")
	for _, u := range testkit.EnabledUnits {
		if !strings.Contains(on, " "+u) {
			t.Errorf("doc/linux.md's lines do not enable %s:\n%s", u, on)
		}
	}
	if !strings.Contains(docSection(t, "Keeping bans across reloads, reboots and power cuts on Linux"),
		"systemctl enable --now "+strings.Join(ipsetEnabledUnits, " ")) {
		t.Errorf("doc/linux.md does not enable %q for ipset", ipsetEnabledUnits)
	}
}
