// Command iblock bans the peer of the connection on its standard input.
//
// inetd (or systemd socket activation) starts iblock for every connection
// to a trap port. iblock asks the kernel who the peer is, logs it and adds
// it to a packet-filter table or set; with pf it also kills the peer's
// states, unless -K says not to. See iblock.8.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// Exit statuses, as in iblock.8.
const (
	exitOK      = 0 // blocked, allowlisted or dry run
	exitFailure = 1 // usage error, bad input or a failed firewall command
	exitNotInet = 2 // the peer is neither IPv4 nor IPv6
)

// run does the whole job and returns the exit status; it alone picks it.
// It never writes to the peer: under inetd, fds 0, 1 and 2 are all the
// scanner's socket.
func run(args []string) int {
	log := newLogger()
	defer log.close()

	conf, err := parseArgs(args, runtime.GOOS)
	if err != nil {
		log.err(err.Error())
		log.err(usage)
		return exitFailure
	}
	allow, err := loadAllowlist(conf.allowFile)
	if err != nil {
		return fail(log, err)
	}
	// This host's addresses are read for each connection, and before the
	// sandbox, which would forbid asking the kernel for them.
	host := hostAddresses()
	// Nothing iblock inherited may reach the programs it runs; their
	// stdin, /dev/null, is opened before the sandbox.
	closeInheritedOnExec()
	sp, err := newSpawner()
	if err != nil {
		return fail(log, err)
	}
	if err := sandbox(planSandbox(conf, runtime.GOOS)); err != nil {
		return fail(log, fmt.Errorf("sandbox: %w", err))
	}
	peer, err := tcpPeerAddr(0)
	if err != nil {
		return fail(log, err)
	}
	if err := ban(conf, allow, host, peer, log, sp); err != nil {
		return fail(log, err)
	}
	return exitOK
}

// fail logs err and returns the exit status it calls for.
func fail(log *logger, err error) int {
	log.err(err.Error())
	if errors.Is(err, errNotInet) {
		return exitNotInet
	}
	return exitFailure
}
