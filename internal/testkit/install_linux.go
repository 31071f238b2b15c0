package testkit

// iblock installed on Linux the two ways doc/linux.md says: the Debian
// package that make deb builds, installed with apt-get in a booted
// system, or make install into a root file system, followed by the
// administrator's lines (the user, the ruleset included from
// /etc/nftables.conf, the units enabled).

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnabledUnits are the units doc/linux.md enables, with Debian's
// nftables.service, which loads the ruleset at boot.
var EnabledUnits = []string{"nftables.service", "iblock.socket", "iblock-save@nft.timer"}

// makeIn runs make with args in the source tree src.
func makeIn(t *testing.T, src string, args ...string) {
	t.Helper()
	mk := exec.Command(NeedTool(t, "make"), append(args, "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))...)
	mk.Dir = src
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// BuildDeb builds the Debian package of this source tree with make deb,
// at version, and returns its path.
func BuildDeb(t *testing.T, version string) string {
	t.Helper()
	NeedTool(t, "dpkg-deb")
	src := CopySource(t)
	makeIn(t, src, "deb", "VERSION="+version)
	debs, _ := filepath.Glob(filepath.Join(src, "iblock_"+version+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb VERSION=%s made %q", version, debs)
	}
	return debs[0]
}

// MakeInstall runs make install of this source tree into root, with
// make's other arguments args.
func MakeInstall(t *testing.T, root string, args ...string) {
	t.Helper()
	makeIn(t, CopySource(t), append([]string{"install", "DESTDIR=" + root}, args...)...)
}

// InstallLinuxFiles installs iblock into root with make install, then does
// offline what doc/linux.md's lines do after it: the user iblock, the
// ruleset included from /etc/nftables.conf, the units enabled.
func InstallLinuxFiles(t *testing.T, root string) {
	t.Helper()
	MakeInstall(t, root)
	sysusers := exec.Command(NeedTool(t, "systemd-sysusers"), "--root="+root)
	if out, err := sysusers.CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	appendFile(t, filepath.Join(root, "etc/nftables.conf"), "include \"/usr/local/share/iblock/nft/*.nft\"\n")
	enable := exec.Command(NeedTool(t, "systemctl"), append([]string{"--root=" + root, "enable"}, EnabledUnits...)...)
	if out, err := enable.CombinedOutput(); err != nil {
		t.Fatalf("systemctl enable: %v\n%s", err, out)
	}
}

// appendFile appends text to a file that exists.
func appendFile(t *testing.T, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// AptInstall copies a package into the booted system's /root and installs
// it there with apt-get, as doc/linux.md says, and returns what apt-get
// printed.
func (c *Container) AptInstall(deb string) string {
	c.T.Helper()
	InstallFile(c.T, deb, filepath.Join(c.Root, "root", filepath.Base(deb)), 0o644)
	return c.Shell("cd /root && apt-get install -y ./" + filepath.Base(deb))
}

// Shell runs a shell script inside the booted system, as root types it,
// without questions from Debian's tools, and returns its output.
func (c *Container) Shell(script string) string {
	c.T.Helper()
	cmd := c.Command("sh", "-ec", script)
	cmd.Env = append(cmd.Env, "DEBIAN_FRONTEND=noninteractive")
	return MustCombined(c.T, cmd)
}

// InstallFile copies a file to dst with mode: src is relative to the
// package's directory or absolute.
func InstallFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}
