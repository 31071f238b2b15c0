package testkit

// The shipped Linux setups (examples/linux) loaded in the server
// namespace of a Net, as the documentation tells a reader to.

import (
	"time"
)

// LoadNftExample loads examples/linux/iblock-only.nft, the ruleset for
// iblock alone, unchanged.
func (n *Net) LoadNftExample() { n.T.Helper(); n.LoadNft("iblock-only.nft", nil) }

// LoadKernelNft loads examples/linux/iblock.nft, unchanged.
func (n *Net) LoadKernelNft() { n.T.Helper(); n.LoadNft("iblock.nft", nil) }

// LoadNft loads an nft ruleset of examples/linux: the file as shipped, or
// a copy with edit applied to its text (and its sets raised to n.Room).
func (n *Net) LoadNft(name string, edit func(text string) string) {
	n.T.Helper()
	n.MustRun(NeedTool(n.T, "nft"), "-f", n.examplePath(name, edit))
}

// LoadKernelIpset creates the sets and rules of the ipset examples as
// shipped: the kernel bans.
func (n *Net) LoadKernelIpset() { n.T.Helper(); n.LoadIpset(nil) }

// LoadIpset restores ipset.conf, then loads the iptables and ip6tables
// rules: the files as shipped, or copies with edit applied to each one's
// text (and the sets raised to n.Room).
func (n *Net) LoadIpset(edit func(name, text string) string) {
	n.T.Helper()
	editOf := func(name string) func(string) string {
		if edit == nil {
			return nil
		}
		return func(text string) string { return edit(name, text) }
	}
	n.RunInput(n.examplePath("ipset.conf", editOf("ipset.conf")), NeedTool(n.T, "ipset"), "-exist", "restore")
	for tool, name := range map[string]string{"iptables-restore": "iptables.rules", "ip6tables-restore": "ip6tables.rules"} {
		n.RunInput(n.examplePath(name, editOf(name)), NeedTool(n.T, tool), "--noflush")
	}
}

// Family is one address family's side of a test: the server's address,
// the scanner's, a bystander's, and the set of iblock's bans.
type Family struct {
	Name, Server, Scanner, Bystander, Set string
}

// Families are the two address families of a Net.
var Families = []Family{
	{"IPv4", Server4, Scanner4, Bystander4, "iblocked"},
	{"IPv6", Server6, Scanner6, Bystander6, "iblocked6"},
}

// WantScannerBannedAlone touches the trap from the family's scanner, then
// checks the set, that the scanner is dropped on the service port, that
// its connection opened before the ban is dropped too, and that the
// bystander still gets through.
func (n *Net) WantScannerBannedAlone(f Family, elements func(set string) []string, path string) {
	n.T.Helper()
	session := n.openSession(f.Scanner, f.Server)
	took := n.TouchTrap(f.Scanner, f.Server)
	WantElements(n.T, f.Set, elements(f.Set), f.Scanner)
	Report(n.T, "time to block an %s scanner through %s: %v", f.Name, path, took.Round(100*time.Microsecond))
	n.WantReach(f.Server, map[string]bool{f.Scanner: false, f.Bystander: true})
	if sessionAlive(session) {
		n.T.Errorf("%s's connection opened before the ban still works", f.Scanner)
	}
}
