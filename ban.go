package main

import (
	"errors"
	"net/netip"
	"strings"
)

// ban bans the peer unless it is allowlisted, logging what it does. The
// error it returns is the first firewall command that failed, for the log.
func ban(conf *config, allow []netip.Prefix, peer netip.Addr, log *logger, sp *spawner) error {
	if allowed(allow, peer) {
		log.notice("not blocking " + peer.String() + ": allowlisted")
		return nil
	}
	target, why := banTarget(conf, allow, peer)
	if conf.backend == "blocklistd" {
		return reportBan(conf, target, log)
	}
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
		return nil
	}
	log.notice("blocking " + target + why)
	closeInheritedOnExec()
	for _, argv := range cmds {
		res := sp.spawn(argv, programTimeout)
		for try := 1; try < addTries && worthRetrying(conf.backend, res); try++ {
			res = sp.spawn(argv, programTimeout)
		}
		if !res.ok() && !alreadyBanned(conf.backend, res) {
			return errors.New(res.describe() + failureHint(conf, res, target, peer.Is6()))
		}
	}
	return nil
}
