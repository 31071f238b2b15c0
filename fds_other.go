//go:build !linux

package main

// closeRangeOnExec is Linux's alone: golang.org/x/sys/unix has no
// close_range(2) for the BSDs, so they mark descriptors one at a time.
func closeRangeOnExec() bool { return false }
