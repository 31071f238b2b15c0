package main

import "golang.org/x/sys/unix"

// highestFdChecked bounds the descriptors marked where the system has no
// close_range(2): inetd and systemd pass few.
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
