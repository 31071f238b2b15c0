package main

import (
	"errors"
	"strconv"
	"strings"
)

const usage = "usage: iblock [-nK] [-b backend] [-c program] [-d helper] [-w allowfile] [-4 bits] [-6 bits] [table]"

// config is what the command line asks for, validated.
type config struct {
	backend    string // pf, npf, nft, ipset or blocklistd
	program    string // absolute path of the firewall program, or blocklistd's socket
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

// defaultProgram is where a backend's program lives on the systems that
// have it; ok is false for an unknown backend.
func defaultProgram(backend string) (path string, ok bool) {
	switch backend {
	case "pf":
		return "/sbin/pfctl", true
	case "npf":
		return "/sbin/npfctl", true
	case "nft":
		return "/usr/sbin/nft", true
	case "ipset":
		return "/usr/sbin/ipset", true
	case "blocklistd":
		return defaultBlocklistdSocket, true
	}
	return "", false
}

// osDefaults returns the backend and helper a system uses unless told otherwise.
func osDefaults(goos string) (backend, helper string) {
	switch goos {
	case "openbsd":
		return "pf", "/usr/bin/doas"
	case "freebsd":
		return "pf", "/usr/local/bin/doas"
	case "netbsd":
		return "npf", noHelper
	default:
		return "nft", noHelper
	}
}

// parseArgs reads the command line the way getopt(3) does, so that
// inetd.conf lines such as "iblock -nK" work as they would in C.
func parseArgs(args []string, goos string) (*config, error) {
	backend, helper := osDefaults(goos)
	opts := &rawOptions{backend: backend, helper: helper}
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
		return nil, errors.New("too many arguments: " + strconv.Quote(args[1]))
	}
	if len(args) == 1 {
		conf.table = args[0]
	}
	return conf, conf.finish(opts)
}

// rawOptions holds the options whose check depends on other options.
type rawOptions struct {
	backend, program, helper string
	helperGiven              bool
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
			return nil, errors.New("unknown option -" + string(opt))
		}
		value := word[i+1:]
		if value == "" {
			if len(rest) == 0 {
				return nil, errors.New("option -" + string(opt) + " needs a value")
			}
			value, rest = rest[0], rest[1:]
		}
		return rest, conf.setOption(opt, value, opts)
	}
	return rest, nil
}

func (conf *config) setOption(opt byte, value string, opts *rawOptions) error {
	if value == "" {
		return errors.New("option -" + string(opt) + " needs a value")
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
	backend, program, helper := opts.backend, opts.program, opts.helper
	def, ok := defaultProgram(backend)
	if !ok {
		return errors.New("unknown backend " + strconv.Quote(backend) + ": use pf, npf, nft, ipset or blocklistd")
	}
	conf.backend = backend
	if program == "" {
		program = def
	}
	if !strings.HasPrefix(program, "/") {
		return errors.New("-c needs an absolute path, not " + strconv.Quote(program))
	}
	conf.program = program
	if helper != noHelper {
		if !strings.HasPrefix(helper, "/") {
			return errors.New("-d needs an absolute path or none, not " + strconv.Quote(helper))
		}
		conf.helper = helper
	}
	if backend == "blocklistd" {
		return checkBlocklistdOptions(conf, opts.helperGiven)
	}
	return checkTable(conf.table, backend)
}

// prefixBits parses a prefix length and keeps it within [min, max]:
// a shorter prefix would ban whole providers.
func prefixBits(value string, min, max int, flag string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < min || n > max {
		return 0, errors.New(flag + " takes a prefix length from " + strconv.Itoa(min) +
			" to " + strconv.Itoa(max) + ", not " + strconv.Quote(value))
	}
	return n, nil
}

// checkTable accepts the names every backend can take as a table or set name
// and that can never be read as an option by the firewall program.
func checkTable(name, backend string) error {
	limit := maxTableLen
	if backend == "ipset" {
		limit-- // room for the "6" of the IPv6 set, within ipset's 31 bytes
	}
	bad := name == "" || len(name) > limit || name[0] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.')
	}
	if bad {
		return errors.New("bad table name " + strconv.Quote(name) + ": 1 to " + strconv.Itoa(limit) +
			" letters, digits, '_', '-' or '.', not starting with '-'")
	}
	if backend == "nft" {
		return checkNftSetName(name)
	}
	return nil
}
