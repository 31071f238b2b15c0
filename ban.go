package main

import (
	"net/netip"
	"strings"
)

// ban bans the peer unless it is allowlisted, and returns the exit status.
func ban(conf *config, allow []netip.Prefix, peer netip.Addr, log *logger, sp *spawner) int {
	if allowed(allow, peer) {
		log.notice("not blocking " + peer.String() + ": allowlisted")
		return exitOK
	}
	target, why := banTarget(conf, allow, peer)
	if why != "" {
		why = " alone: " + why
	}
	cmds := banCommands(conf, target, peer.Is6())
	if conf.dryRun {
		if why != "" {
			log.notice("dry run: would block " + target + why)
		}
		for _, argv := range cmds {
			log.notice("dry run: would run " + strings.Join(argv, " "))
		}
		return exitOK
	}
	log.notice("blocking " + target + why)
	closeInheritedOnExec()
	for _, argv := range cmds {
		res := sp.spawn(argv, programTimeout)
		for try := 1; try < addTries && worthRetrying(conf.backend, res); try++ {
			res = sp.spawn(argv, programTimeout)
		}
		if !res.ok() && !alreadyBanned(conf.backend, res) {
			log.err(res.describe() + missingSetHint(conf, res, peer.Is6()))
			return exitFailure
		}
	}
	return exitOK
}
