//go:build !openbsd

package main

// sandbox does nothing where there is no pledge(2) and unveil(2).
func sandbox(sandboxPlan) error { return nil }
