//go:build openbsd

package main

import "golang.org/x/sys/unix"

// sandbox applies the plan with unveil(2) and pledge(2). /dev/null, which
// the programs get as stdin, needs no unveil: pledge lets any process open it.
func sandbox(plan sandboxPlan) error {
	for _, u := range plan.unveils {
		if err := unix.Unveil(u.path, u.perm); err != nil {
			return err
		}
	}
	if err := unix.UnveilBlock(); err != nil {
		return err
	}
	return unix.PledgePromises(plan.promises)
}
