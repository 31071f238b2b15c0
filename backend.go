package main

// The backend type: what a way of banning is, the table of them that -b
// picks from, and the implementation the four firewall programs share.
// Each backend is a value in a file of its own: pf.go, npf.go, nft.go,
// ipset.go and blocklistd.go. Nothing else looks at a backend's name.

import (
	"bytes"
	"fmt"
	"strings"
)

// backend is one way of banning, as -b names it: the program it runs, the
// commands that ban a target, what the program's answers mean and which
// table names it takes.
type backend struct {
	name     string
	program  string // where its program lives on the systems that have it
	tableLen int    // the longest table name it takes
	// familySets: the table names two sets, one per family, the IPv6 one
	// with a "6" (nft and ipset); pf and npf tables hold both families.
	familySets bool

	// ban bans target (the peer, or its network) as conf says, or for a
	// dry run logs what it would do. Its error is what failed, for the log.
	// The backends that run a program share runCommands.
	ban func(conf *config, target string, v6 bool, log *logger, sp *spawner) error

	// commands returns the argv of each command that adds target to set,
	// in order, without the helper.
	commands func(conf *config, set, target string) [][]string

	// What the program prints when it exits 1 because the target was in
	// the set already (a success), because of a passing trouble that
	// another run may not meet, or because the set is full. "" where the
	// program never says so.
	alreadyIn, passing, full string
	// missing is what the program prints, whatever its exit status, when
	// the set does not exist, and createSet the hint that then names the
	// commands that create the set.
	missing   string
	createSet func(program, set string, v6 bool) string

	// checkSets refuses a table whose sets' names (v4, v6) the program
	// would not read as names; nil when every name checkTable lets through
	// will do.
	checkSets func(table, v4, v6 string) error

	// checkOptions refuses the options that mean nothing to a backend
	// that runs no program (helperGiven: -d was given); sandbox is the
	// sandbox of such a backend. nil for the backends that run a program.
	checkOptions func(conf *config, helperGiven bool) error
	sandbox      func(conf *config, goos string) sandboxPlan
}

// backends is every backend, in the order an unknown -b lists them.
var backends = []*backend{pf, npf, nft, ipset, blocklistd}

// backendNamed returns the backend -b names.
func backendNamed(name string) (*backend, error) {
	var names []string
	for _, b := range backends {
		if b.name == name {
			return b, nil
		}
		names = append(names, b.name)
	}
	last := len(names) - 1
	return nil, fmt.Errorf("unknown backend %q: use %s or %s", name, strings.Join(names[:last], ", "), names[last])
}

// familySet is the set of one family that a table name stands for: IPv6
// goes to the name with a "6".
func familySet(table string, v6 bool) string {
	if v6 {
		return table + "6"
	}
	return table
}

// set is the table or set that a target of the family goes into.
func (b *backend) set(table string, v6 bool) string {
	if b.familySets {
		return familySet(table, v6)
	}
	return table
}

// banCommands returns the argv of each command that bans target, in order,
// through the helper when there is one; each runs only if the one before
// it succeeded.
func (b *backend) banCommands(conf *config, target string, v6 bool) [][]string {
	cmds := b.commands(conf, b.set(conf.table, v6), target)
	if conf.helper != "" {
		for i, argv := range cmds {
			cmds[i] = append([]string{conf.helper, "-n"}, argv...)
		}
	}
	return cmds
}

// addTries is how many times a command that failed for a passing reason
// runs.
const addTries = 3

// runCommands is ban for the backends that run a program: it runs the
// commands in order, each at most programTimeout, and stops at the first
// that fails.
func runCommands(conf *config, target string, v6 bool, log *logger, sp *spawner) error {
	b := conf.backend
	cmds := b.banCommands(conf, target, v6)
	if conf.dryRun {
		for _, argv := range cmds {
			log.notice("dry run: would run " + strings.Join(argv, " "))
		}
		return nil
	}
	for _, argv := range cmds {
		res := sp.spawn(argv, programTimeout)
		for try := 1; try < addTries && b.worthRetrying(res); try++ {
			res = sp.spawn(argv, programTimeout)
		}
		if !res.ok() && !b.alreadyBanned(res) {
			return res.failure(b.failureHint(conf, res, target, v6))
		}
	}
	return nil
}

// exitedSaying reports whether a command exited 1 and printed words.
func exitedSaying(res *result, words string) bool {
	return words != "" && res.exitedWith(1) && bytes.Contains(res.output, []byte(words))
}

// alreadyBanned reports whether a failed command only says the target was
// in the set already.
func (b *backend) alreadyBanned(res *result) bool { return exitedSaying(res, b.alreadyIn) }

// worthRetrying reports whether a failed command may succeed if run again.
func (b *backend) worthRetrying(res *result) bool { return exitedSaying(res, b.passing) }

// setFull reports whether a command failed because the set holds as many
// elements as it may.
func (b *backend) setFull(res *result) bool { return exitedSaying(res, b.full) }

// failureHint explains a failed command whose set is full or does not
// exist, for the end of the err line; it is "" for any other failure.
func (b *backend) failureHint(conf *config, res *result, target string, v6 bool) string {
	set := b.set(conf.table, v6)
	if b.setFull(res) {
		return "; set " + set + " is full, " + target + " is not banned"
	}
	return b.missingSetHint(conf, res, v6)
}

// missingSetHint explains a failed command whose set does not exist, and
// names the commands that create it; it is "" for any other failure.
func (b *backend) missingSetHint(conf *config, res *result, v6 bool) string {
	if b.missing == "" || !bytes.Contains(res.output, []byte(b.missing)) {
		return ""
	}
	set := b.set(conf.table, v6)
	return "; set " + set + " is missing" + b.createSet(conf.program, set, v6)
}
