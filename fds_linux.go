package main

import (
	"math"

	"golang.org/x/sys/unix"
)

// closeRangeOnExec marks every open descriptor from 3 up close-on-exec in
// one close_range(2) call with CLOSE_RANGE_CLOEXEC. It closes none: the
// syslog socket and /dev/null stay usable until each exec. The flag came
// with Linux 5.11; an older kernel refuses the call (EINVAL, or ENOSYS
// before 5.9), and false sends the caller to its loop.
func closeRangeOnExec() bool {
	return unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil
}
