package main

import "golang.org/x/sys/unix"

// highestFdChecked bounds the loop that marks descriptors one at a time,
// which runs wherever closeRangeOnExec cannot mark them in one call (the
// BSDs, and Linux before 5.11): inetd and systemd pass few descriptors.
const highestFdChecked = 255

// closeInheritedOnExec marks every descriptor above 2 close-on-exec, so
// that nothing iblock inherited reaches the programs it runs: systemd, for
// one, passes the scanner's connection as fd 3 as well as on stdin.
func closeInheritedOnExec() {
	if closeRangeOnExec() {
		return
	}
	for fd := 3; fd <= highestFdChecked; fd++ {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
}
