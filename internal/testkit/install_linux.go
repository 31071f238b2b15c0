package testkit

// The project's Linux files installed into a root file system the way
// doc/linux.md tells an administrator to: make install, the units in
// /etc/systemd/system, the user iblock made by systemd-sysusers,
// iblock-sets in /usr/local/sbin, the drop-in that keeps the bans in
// nftables.service, the ruleset and the allowlist in /etc/iblock, the ruleset included from
// /etc/nftables.conf, and the units enabled.

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// linuxUnits are the example units, all installed; EnabledUnits are those
// doc/linux.md enables, with Debian's nftables.service, which loads the
// ruleset at boot.
var (
	linuxUnits   = []string{"iblock.socket", "iblock@.service", "iblock-save@.service", "iblock-save@.timer"}
	EnabledUnits = []string{"nftables.service", "iblock.socket", "iblock-save@nft.timer"}
)

// InstallLinuxFiles installs iblock and its Linux examples into root.
func InstallLinuxFiles(t *testing.T, root string) {
	t.Helper()
	src := CopySource(t)
	mk := exec.Command(NeedTool(t, "make"), "install", "DESTDIR="+root, "MANDIR=/usr/local/share/man",
		"GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	mk.Dir = src
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, u := range linuxUnits {
		InstallFile(t, "examples/linux/"+u, filepath.Join(root, "etc/systemd/system", u), 0o644)
	}
	InstallFile(t, "examples/linux/iblock.sysusers", filepath.Join(root, "etc/sysusers.d/iblock.conf"), 0o644)
	sysusers := exec.Command(NeedTool(t, "systemd-sysusers"), "--root="+root)
	if out, err := sysusers.CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	InstallFile(t, "examples/linux/nftables.service.d/iblock.conf", filepath.Join(root, "etc/systemd/system/nftables.service.d/iblock.conf"), 0o644)
	InstallFile(t, "examples/linux/iblock-sets", filepath.Join(root, "usr/local/sbin/iblock-sets"), 0o755)
	InstallFile(t, "examples/linux/iblock.nft", filepath.Join(root, "etc/iblock/iblock.nft"), 0o644)
	InstallFile(t, "examples/linux/allow", filepath.Join(root, "etc/iblock/allow"), 0o644)
	conf, err := os.OpenFile(filepath.Join(root, "etc/nftables.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.WriteString("include \"/etc/iblock/iblock.nft\"\n")
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	enable := exec.Command(NeedTool(t, "systemctl"), append([]string{"--root=" + root, "enable"}, EnabledUnits...)...)
	if out, err := enable.CombinedOutput(); err != nil {
		t.Fatalf("systemctl enable: %v\n%s", err, out)
	}
}

// InstallFile copies a file of the source tree to dst with mode.
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
