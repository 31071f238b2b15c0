package testkit

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// contract is testdata/contract.txt: what iblock.8 says iblock runs, as
// data, so that no test states it again in code.
type contract struct {
	Env   string // the whole environment of the programs iblock runs
	Cases []ContractCase
}

// ContractCase is one command line and peer, and what iblock does then.
type ContractCase struct {
	Args []string   // iblock's arguments, without the peer
	Peer string     // the peer's address
	Set  string     // the table or set the peer goes into
	Run  [][]string // each command, in order
}

// ReadContract reads testdata/contract.txt.
func ReadContract(t testing.TB) *contract {
	t.Helper()
	data, err := os.ReadFile(SourcePath("testdata/contract.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseContract(string(data))
	if err != nil {
		t.Fatalf("testdata/contract.txt: %v", err)
	}
	return c
}

func parseContract(text string) (*contract, error) {
	c := &contract{}
	var last *ContractCase
	for i, line := range strings.Split(text, "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		f := strings.Fields(rest)
		switch {
		case word == "" || strings.HasPrefix(word, "#"):
		case word == "environment" && len(f) == 1:
			c.Env = f[0]
		case word == "case" && len(f) > 0:
			c.Cases = append(c.Cases, ContractCase{Args: f[:len(f)-1], Peer: f[len(f)-1]})
			last = &c.Cases[len(c.Cases)-1]
		case word == "set" && len(f) == 1 && last != nil:
			last.Set = f[0]
		case word == "run" && len(f) > 0 && last != nil:
			last.Run = append(last.Run, f)
		default:
			return nil, fmt.Errorf("line %d: %q", i+1, line)
		}
	}
	return c, nil
}

// Backend returns the cases of a backend, those whose arguments have
// "-b name".
func (c *contract) Backend(name string) []ContractCase {
	var cases []ContractCase
	for _, tc := range c.Cases {
		if i := slices.Index(tc.Args, "-b"); i >= 0 && i+1 < len(tc.Args) && tc.Args[i+1] == name {
			cases = append(cases, tc)
		}
	}
	return cases
}

// IblockSet is the set that iblock, run as "iblock -b backend -d none",
// adds addr to, as the contract's case for addr's family says.
func IblockSet(t testing.TB, backend, addr string) string {
	t.Helper()
	v6 := netip.MustParseAddr(addr).Is6()
	for _, tc := range ReadContract(t).Backend(backend) {
		if slices.Equal(tc.Args, []string{"-b", backend, "-d", "none"}) && netip.MustParseAddr(tc.Peer).Is6() == v6 {
			return tc.Set
		}
	}
	t.Fatalf("testdata/contract.txt has no case of -b %s -d none for a peer like %s", backend, addr)
	return ""
}

// SetName is the set of one family in the shipped rulesets: the name for
// IPv4, the name followed by "6" for IPv6, as the rulesets name theirs.
// (The sets iblock adds to are the contract's: see IblockSet.)
func SetName(name string, v6 bool) string {
	if v6 {
		return name + "6"
	}
	return name
}
