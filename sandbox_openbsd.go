//go:build openbsd

package main

import "golang.org/x/sys/unix"

// sandbox applies the plan with unveil(2) and pledge(2). /dev/null, which
// the programs get as stdin, is opened before (see newSpawner) and needs
// no unveil.
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
