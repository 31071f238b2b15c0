package examples

// iblock.8 and testdata/contract.txt must say the same: the commands the
// manual gives for each backend, read as templates, give every case of
// the contract's data, which the root tests check the product against.

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"iblock/internal/testkit"
)

// manualBackend is what iblock.8 says of one backend's commands.
type manualBackend struct {
	program string         // the default program, from -c
	run     [][]manualWord // the commands, in order
	unlessK int            // the commands from this one on are not run with -K
	// familySets: IPv6 goes to the set "table6"; alone: a network is
	// given as its address alone.
	familySets, alone bool
}

// manualWord is a word of a command: literal, or a placeholder (.Ar):
// H, program, table or A.
type manualWord struct {
	word        string
	placeholder bool
}

// manualCommands reads the list that follows "The commands run for each
// backend" in iblock.8, and the default programs that -c lists, in the
// same order.
func manualCommands(t *testing.T) (map[string]*manualBackend, []string) {
	t.Helper()
	lines := strings.Split(readManual(t), "\n")
	var programs []string
	inC := false
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, ".It "):
			inC = line == ".It Fl c Ar program"
		case inC && strings.HasPrefix(line, ".Pa "):
			programs = append(programs, strings.Fields(line)[1])
		}
	}
	backends := map[string]*manualBackend{}
	var order []string
	var b *manualBackend
	started, afterK := false, false
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "The commands run for each backend"):
			started = true
		case !started:
		case line == ".El":
			started = false
		case strings.HasPrefix(line, ".It "):
			b = &manualBackend{unlessK: -1}
			name := strings.TrimPrefix(line, ".It ")
			backends[name], order, afterK = b, append(order, name), false
		case b == nil:
		case strings.HasPrefix(line, ".Ar H program "):
			if afterK && b.unlessK < 0 {
				b.unlessK = len(b.run)
			}
			b.run = append(b.run, mdocWords(line))
		case strings.HasPrefix(line, ".Fl K"):
			afterK = true
		case line == ".Ar table Ns Cm 6 .":
			b.familySets = true
		case strings.Contains(line, "address alone"):
			b.alone = true
		}
	}
	if len(order) == 0 || len(programs) != len(order) {
		t.Fatalf("iblock.8: backends %q, default programs %q", order, programs)
	}
	for i, name := range order {
		backends[name].program = programs[i]
		if backends[name].unlessK < 0 {
			backends[name].unlessK = len(backends[name].run)
		}
	}
	return backends, order
}

// mdocWords reads one mdoc line of a command: .Ar words are placeholders,
// .Cm words literal, .Fl words options; punctuation is dropped.
func mdocWords(line string) []manualWord {
	var words []manualWord
	macro := ""
	for _, f := range strings.Fields(line) {
		switch f {
		case ",", ".", ";":
		case ".Ar", "Ar", "Cm", "Fl":
			macro = strings.TrimPrefix(f, ".")
		default:
			if macro == "Fl" {
				f = "-" + f
			}
			words = append(words, manualWord{f, macro == "Ar"})
		}
	}
	return words
}

// expand gives a contract case's commands and set from the manual's
// templates.
func (b *manualBackend) expand(t *testing.T, tc testkit.ContractCase) (run [][]string, set string) {
	t.Helper()
	helper, program, table, keep := "", b.program, "iblocked", false
	bits := map[bool]int{false: 32, true: 128}
	for i := 0; i < len(tc.Args); i++ {
		switch arg := tc.Args[i]; arg {
		case "-K":
			keep = true
		case "-b", "-c", "-d", "-4", "-6":
			i++
			switch value := tc.Args[i]; arg {
			case "-c":
				program = value
			case "-d":
				helper = strings.TrimPrefix(value, "none")
			case "-4", "-6":
				n, err := strconv.Atoi(value)
				if err != nil {
					t.Fatalf("%q: %v", tc.Args, err)
				}
				bits[arg == "-6"] = n
			}
		default:
			table = arg
		}
	}
	if len(b.run) == 0 {
		return nil, "" // a backend that runs no program, such as blocklistd
	}
	peer := netip.MustParseAddr(tc.Peer)
	target := netip.PrefixFrom(peer, bits[peer.Is6()]).Masked().String()
	if bits[peer.Is6()] == peer.BitLen() {
		target = peer.String()
	} else if b.alone {
		target = netip.MustParsePrefix(target).Addr().String()
	}
	if set = table; b.familySets && peer.Is6() {
		set = table + "6"
	}
	for i, words := range b.run {
		if keep && i >= b.unlessK {
			break
		}
		var argv []string
		for _, w := range words {
			switch {
			case !w.placeholder:
				argv = append(argv, w.word)
			case w.word == "H" && helper != "":
				argv = append(argv, helper, "-n")
			case w.word == "program":
				argv = append(argv, program)
			case w.word == "table":
				argv = append(argv, set)
			case w.word == "A":
				argv = append(argv, target)
			case w.word != "H":
				t.Fatalf("iblock.8: unknown placeholder %q", w.word)
			}
		}
		run = append(run, argv)
	}
	return run, set
}

// TestManualAndContractDataGiveTheSameCommands reads each backend's
// commands in iblock.8 and checks that they give, for every case of
// testdata/contract.txt, the commands and the set the case states; each
// backend of the manual has cases, and each case a backend of the manual.
func TestManualAndContractDataGiveTheSameCommands(t *testing.T) {
	backends, order := manualCommands(t)
	contract := testkit.ReadContract(t)
	seen := 0
	for _, name := range order {
		cases := contract.Backend(name)
		if len(cases) == 0 {
			t.Errorf("testdata/contract.txt has no case of -b %s", name)
		}
		seen += len(cases)
		for _, tc := range cases {
			run, set := backends[name].expand(t, tc)
			if !testkit.EqualArgvs(run, tc.Run) || set != tc.Set {
				t.Errorf("%q %s: iblock.8 gives set %s and\n%s\ntestdata/contract.txt set %s and\n%s",
					tc.Args, tc.Peer, set, testkit.ShowArgvs(run), tc.Set, testkit.ShowArgvs(tc.Run))
			}
		}
	}
	if seen != len(contract.Cases) {
		t.Errorf("testdata/contract.txt has %d cases of backends iblock.8 does not list", len(contract.Cases)-seen)
	}
	if !strings.Contains(strings.Join(strings.Fields(readManual(t)), " "), strings.TrimPrefix(contract.Env, "PATH=")) {
		t.Errorf("iblock.8 does not give the programs' environment %s", contract.Env)
	}
}

func readManual(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("iblock.8")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
