package main

// unveilRule is one unveil(2) call: a path and what may be done with it.
type unveilRule struct {
	path, perm string
}

// sandboxPlan is what iblock gives up before it reads the peer, on systems
// with pledge(2) and unveil(2).
type sandboxPlan struct {
	unveils  []unveilRule
	promises string
}

// planSandbox computes the sandbox for a configuration. It only needs to
// execute the helper (or, without one, the firewall program) and to write to
// the syslog socket. "proc exec" are dropped for a dry run, which runs
// nothing. No execpromises: the kernel would then refuse to run setuid doas.
func planSandbox(conf *config, goos string) sandboxPlan {
	if conf.backend.sandbox != nil {
		return conf.backend.sandbox(conf, goos)
	}
	var plan sandboxPlan
	if !conf.dryRun {
		exe := conf.helper
		if exe == "" {
			exe = conf.program
		}
		plan.unveils = append(plan.unveils, unveilRule{exe, "x"})
	}
	plan.unveils = append(plan.unveils, unveilRule{syslogPath(goos), "w"})
	plan.promises = "stdio unix"
	if !conf.dryRun {
		plan.promises = "stdio proc exec unix"
	}
	return plan
}
