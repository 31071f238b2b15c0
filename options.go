package main

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

const usage = "usage: iblock [-nK] [-b backend] [-c program] [-d helper] [-w allowfile] [-4 bits] [-6 bits] [table]"

// config is what the command line asks for, validated.
type config struct {
	backend    *backend
	program    string // absolute path of the firewall program, or of blocklistd's socket
	helper     string // absolute path of the privilege helper; "" runs program directly
	allowFile  string // "" keeps the default allowlist
	bits4      int    // prefix length banned for IPv4 peers
	bits6      int    // prefix length banned for IPv6 peers
	dryRun     bool
	keepStates bool
	table      string
}

const (
	defaultTable = "iblocked"
	maxTableLen  = 31 // pf's PF_TABLE_NAME_SIZE is 32, with the NUL
	noHelper     = "none"
)

// osDefaults returns the backend and helper a system uses unless told otherwise.
func osDefaults(goos string) (b *backend, helper string) {
	switch goos {
	case "openbsd":
		return pf, "/usr/bin/doas"
	case "freebsd":
		return pf, "/usr/local/bin/doas"
	case "netbsd":
		return npf, noHelper
	default:
		return nft, noHelper
	}
}

// parseArgs reads the command line the way getopt(3) does, so that
// inetd.conf lines such as "iblock -nK" work as they would in C.
func parseArgs(args []string, goos string) (*config, error) {
	backend, helper := osDefaults(goos)
	opts := &rawOptions{backend: backend.name, helper: helper}
	conf := &config{bits4: 32, bits6: 128, table: defaultTable}
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		word := args[0][1:]
		args = args[1:]
		if word == "-" {
			break
		}
		var err error
		if args, err = conf.parseWord(word, args, opts); err != nil {
			return nil, err
		}
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("too many arguments: %q", args[1])
	}
	if len(args) == 1 {
		conf.table = args[0]
	}
	return conf, conf.finish(opts)
}

// rawOptions holds the options whose check depends on other options.
type rawOptions struct {
	backend, program, helper string
	helperGiven              bool // -d was given
}

// parseWord handles one word of options such as "nK" or "b" or "bpf"; an
// option that takes a value takes the rest of the word, or the next word.
func (conf *config) parseWord(word string, rest []string, opts *rawOptions) ([]string, error) {
	for i := 0; i < len(word); i++ {
		opt := word[i]
		switch opt {
		case 'n':
			conf.dryRun = true
			continue
		case 'K':
			conf.keepStates = true
			continue
		case 'b', 'c', 'd', 'w', '4', '6':
		default:
			return nil, fmt.Errorf("unknown option -%c", opt)
		}
		value := word[i+1:]
		if value == "" {
			if len(rest) == 0 {
				return nil, fmt.Errorf("option -%c needs a value", opt)
			}
			value, rest = rest[0], rest[1:]
		}
		return rest, conf.setOption(opt, value, opts)
	}
	return rest, nil
}

func (conf *config) setOption(opt byte, value string, opts *rawOptions) error {
	if value == "" {
		return fmt.Errorf("option -%c needs a value", opt)
	}
	var err error
	switch opt {
	case 'b':
		opts.backend = value
	case 'c':
		opts.program = value
	case 'd':
		opts.helper, opts.helperGiven = value, true
	case 'w':
		conf.allowFile = value
	case '4':
		conf.bits4, err = prefixBits(value, 16, 32, "-4")
	case '6':
		conf.bits6, err = prefixBits(value, 32, 128, "-6")
	}
	return err
}

// finish checks and fills in what depends on more than one option.
func (conf *config) finish(opts *rawOptions) error {
	b, err := backendNamed(opts.backend)
	if err != nil {
		return err
	}
	conf.backend = b
	program, helper := cmp.Or(opts.program, b.program), opts.helper
	if !strings.HasPrefix(program, "/") {
		return fmt.Errorf("-c needs an absolute path, not %q", program)
	}
	conf.program = program
	if helper != noHelper {
		if !strings.HasPrefix(helper, "/") {
			return fmt.Errorf("-d needs an absolute path or none, not %q", helper)
		}
		conf.helper = helper
	}
	if b.checkOptions != nil {
		if err := b.checkOptions(conf, opts.helperGiven); err != nil {
			return err
		}
	}
	return checkTable(conf.table, b)
}

// prefixBits parses a prefix length and keeps it within [min, max]:
// a shorter prefix would ban whole providers.
func prefixBits(value string, min, max int, flag string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s takes a prefix length from %d to %d, not %q", flag, min, max, value)
	}
	return n, nil
}

// checkTable accepts the names the backend can take as a table or set
// name and that can never be read as an option by the firewall program.
func checkTable(name string, b *backend) error {
	limit := b.tableLen
	bad := name == "" || len(name) > limit || name[0] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.')
	}
	if bad {
		return fmt.Errorf("bad table name %q: 1 to %d letters, digits, '_', '-' or '.', not starting with '-'", name, limit)
	}
	if b.checkSets != nil {
		return b.checkSets(name, b.set(name, false), b.set(name, true))
	}
	return nil
}
