package main

import (
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// syslogSocket, when set at link time (-ldflags "-X main.syslogSocket=PATH"),
// replaces the system's syslog sockets. The tests use it to read the log.
var syslogSocket string

// syslogPath is where syslogd listens: /var/run/log on FreeBSD and NetBSD,
// /dev/log elsewhere.
func syslogPath(goos string) string {
	switch {
	case syslogSocket != "":
		return syslogSocket
	case goos == "freebsd" || goos == "netbsd":
		return "/var/run/log"
	}
	return "/dev/log"
}

// Priorities: facility daemon with severity err or notice.
const (
	priErr    = 3<<3 | 3
	priNotice = 3<<3 | 5
)

const maxLogLine = 1024

const logBudget = 50 * time.Millisecond

// logger sends lines to syslog and, when a person runs iblock by hand, to
// stderr. Under inetd stderr is the scanner's socket, so it is never
// written to then.
type logger struct {
	path   string // of the syslog socket
	fd     int    // syslog socket; -1 until the first line is sent
	dialed bool   // a dial was tried: without a syslogd, iblock still blocks
	stderr int8   // 0 not yet known, 1 a terminal or file, -1 a socket or closed
	tag    string
}

func newLogger() *logger {
	return &logger{path: syslogPath(runtime.GOOS), fd: -1, tag: "iblock[" + strconv.Itoa(unix.Getpid()) + "]: "}
}

func (l *logger) notice(msg string) { l.send(priNotice, msg) }
func (l *logger) err(msg string)    { l.send(priErr, msg) }

// send writes one line. syslogd stamps the time when it receives it, so the
// line carries none, and iblock needs no time zone.
func (l *logger) send(pri int, msg string) {
	msg = printable(msg)
	if l.stderrIsForPeople() {
		unix.Write(2, []byte("iblock: "+msg+"\n"))
	}
	line := []byte("<" + strconv.Itoa(pri) + ">" + l.tag + msg)
	if len(line) > maxLogLine {
		line = line[:maxLogLine]
	}
	if !l.dialed {
		l.dialed = true
		l.dial()
	}
	if l.fd < 0 {
		return
	}
	if _, err := unix.Write(l.fd, line); err != nil {
		// syslogd may have restarted since the dial: dial once more.
		l.close()
		l.dial()
		if l.fd >= 0 {
			unix.Write(l.fd, line)
		}
	}
}

// dial connects to syslogd. Failing is not an error: iblock still blocks.
func (l *logger) dial() {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.Connect(fd, &unix.SockaddrUnix{Name: l.path}) != nil {
		unix.Close(fd)
		return
	}
	l.fd = fd
}

func (l *logger) close() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// stderrIsForPeople reports whether fd 2 is open and not a socket.
func (l *logger) stderrIsForPeople() bool {
	if l.stderr == 0 {
		var st unix.Stat_t
		l.stderr = -1
		if unix.Fstat(2, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			l.stderr = 1
		}
	}
	return l.stderr > 0
}

// printable replaces control bytes, so that a program's output cannot forge
// log lines.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] < ' ' || b[j] == 0x7f {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}
