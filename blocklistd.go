package main

// The blocklistd backend: instead of running a firewall program, iblock
// hands the connection on fd 0 to blocklistd (NetBSD's blocklistd,
// FreeBSD's blacklistd), in the datagram libblocklist sends. blocklistd
// reads the peer and the local port from the socket itself, so the report
// proves that iblock holds the connection; blocklistd.conf then decides
// (nfail, duration, rule name) and blocklistd's helper bans.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// blocklistd runs no program: -c names its socket, as blocklistd's -s.
var blocklistd = &backend{
	name:         "blocklistd",
	program:      defaultBlocklistdSocket,
	tableLen:     maxTableLen,
	ban:          reportBan,
	commands:     func(*config, string, string) [][]string { return nil }, // none
	checkOptions: checkBlocklistdOptions,
	sandbox:      planBlocklistdSandbox,
}

// defaultBlocklistdSocket is where blocklistd listens unless its -s says
// otherwise (FreeBSD 14 and before: /var/run/blacklistd.sock).
const defaultBlocklistdSocket = "/var/run/blocklistd.sock"

// The message, as lib/bl.c lays it out: four uint32 in the host's byte
// order (bl_len, bl_version, bl_type, bl_salen), a struct sockaddr_storage
// (128 bytes on Linux, NetBSD and FreeBSD), then the text, without a NUL.
const (
	blVersion      = 1 // the only version blocklistd accepts
	blSockaddrLen  = 128
	blHeaderLen    = 4*4 + blSockaddrLen // 144
	blMaxText      = 128                 // bl_send cuts the text there
	blocklistdText = "iblock: connection to a trap port"
)

// blAbuse is the wire code of BL_ABUSE (bl_type_t: BL_INVALID 0, BL_ADD 1,
// BL_DELETE 2, BL_ABUSE 3, BL_BADUSER 4). The public BLOCKLIST_* values of
// blocklist(3) are not these: BLOCKLIST_ABUSIVE_BEHAVIOR is 2, which on
// the wire is BL_DELETE, a release. A trap touch is abuse, not a failed
// login: blocklistd blocks on the first BL_ABUSE for any numeric nfail,
// where BL_ADD counts one or two failures depending on its version.
const blAbuse = 3

// blocklistdMessage builds the datagram of one report. The address part
// is empty (bl_salen 0), as blocklist(3) sends it for a connected socket:
// blocklistd takes the peer from getpeername on the descriptor, which
// only the kernel fills in. An all-zero sockaddr_storage is the same on
// every system, sa_len byte (the BSDs) or not (Linux).
func blocklistdMessage(typ uint32, text string) []byte {
	if len(text) > blMaxText {
		text = text[:blMaxText]
	}
	msg := make([]byte, blHeaderLen, blHeaderLen+len(text))
	order := binary.NativeEndian
	order.PutUint32(msg[0:], uint32(blHeaderLen+len(text))) // bl_len
	order.PutUint32(msg[4:], blVersion)
	order.PutUint32(msg[8:], typ)
	order.PutUint32(msg[12:], 0) // bl_salen; bl_ss stays zero
	return append(msg, text...)
}

// reportTimeout bounds the wait for room in blocklistd's queue: it runs
// its helper inline and reads nothing meanwhile.
const reportTimeout = programTimeout

// reportToBlocklistd sends the report with fd passed along, on a
// non-blocking socket, as libblocklist does: a blocking send would hang
// once blocklistd's queue is full. The sender's credentials need nothing
// from iblock: where the system passes them (Linux SO_PASSCRED, the BSDs'
// LOCAL_CREDS), blocklistd asks for them on its own socket and the kernel
// adds them.
func reportToBlocklistd(path string, fd int, timeout time.Duration) error {
	if err := checkBlocklistdPath(path); err != nil {
		return err
	}
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("blocklistd: socket: %w", err)
	}
	defer unix.Close(s)
	if err := unix.Connect(s, &unix.SockaddrUnix{Name: path}); err != nil {
		return connectError(path, err)
	}
	msg := blocklistdMessage(blAbuse, blocklistdText)
	rights := unix.UnixRights(fd)
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Sendmsg(s, msg, rights, nil, 0)
		if err == nil {
			return nil
		}
		if !queueFull(err) {
			return fmt.Errorf("blocklistd at %s refused the report: %w", path, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("blocklistd at %s read nothing for %v, its queue is full: "+
				"it is hung, or busy running its helper", path, timeout)
		}
		waitForRoom(s, min(left, 50*time.Millisecond))
	}
}

// checkBlocklistdPath says what is wrong with the path before anything is
// sent: missing, or not a socket at all.
func checkBlocklistdPath(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blocklistd is not running: no socket %s (blocklistd -s, iblock -c)", path)
	}
	if err != nil {
		return fmt.Errorf("blocklistd: %w", err)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s is not a socket, not blocklistd's", path)
	}
	return nil
}

// connectError explains a failed connect to blocklistd's socket.
func connectError(path string, err error) error {
	switch {
	case errors.Is(err, unix.ECONNREFUSED):
		return fmt.Errorf("blocklistd is not running: nothing listens on %s", path)
	case errors.Is(err, unix.EPROTOTYPE):
		return fmt.Errorf("%s is a stream socket, not blocklistd's datagram socket", path)
	case errors.Is(err, unix.EPERM):
		// Linux: a datagram socket connected to another one, a client's.
		return fmt.Errorf("%s takes datagrams from one other socket only, not blocklistd's", path)
	case errors.Is(err, unix.EACCES):
		return fmt.Errorf("blocklistd's socket %s: %w: iblock's user may not write to it", path, err)
	}
	return fmt.Errorf("blocklistd: connect %s: %w", path, err)
}

// queueFull reports whether a send failed only because blocklistd's queue
// has no room: Linux says EAGAIN; the BSDs say ENOBUFS.
func queueFull(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.ENOBUFS)
}

// waitForRoom waits until the socket may take a datagram, or for d. It
// pauses a little after a quick answer: where the kernel says ENOBUFS,
// poll does not wait for the receiver's room.
func waitForRoom(s int, d time.Duration) {
	fds := []unix.PollFd{{Fd: int32(s), Events: unix.POLLOUT}}
	start := time.Now()
	unix.Poll(fds, int(d/time.Millisecond)+1)
	if time.Since(start) < 5*time.Millisecond {
		time.Sleep(5 * time.Millisecond)
	}
}

// reportBan reports the connection on fd 0, whose peer is target: the
// ban itself is blocklistd's. A dry run only says what it would send.
func reportBan(conf *config, target string, _ bool, log *logger, _ *spawner) error {
	if conf.dryRun {
		log.notice("dry run: would report " + target + " to blocklistd at " + conf.program)
		return nil
	}
	return reportToBlocklistd(conf.program, 0, reportTimeout)
}

// checkBlocklistdOptions refuses the options blocklistd makes meaningless,
// rather than ignore them: blocklistd.conf names the rule (the name
// column), the mask (name/24) and how long a ban lasts, and no program
// runs, so no privilege helper either. -c names the socket, as
// blocklistd's -s.
func checkBlocklistdOptions(conf *config, helperGiven bool) error {
	switch {
	case helperGiven && conf.helper != "":
		return errors.New("-d does not apply to -b blocklistd: iblock runs no program and needs no privilege")
	case conf.bits4 != 32 || conf.bits6 != 128:
		return errors.New("-4 and -6 do not apply to -b blocklistd: the mask is blocklistd.conf's (name column, e.g. =/24)")
	case conf.table != defaultTable:
		return errors.New("a table does not apply to -b blocklistd: the rule is blocklistd.conf's (name column)")
	}
	conf.helper = ""
	return nil
}

// planBlocklistdSandbox is the sandbox of a report: no program runs, so
// no "proc exec"; connect(2) to blocklistd's socket needs it unveiled
// "w", and passing fd 0 in SCM_RIGHTS needs "sendfd". (OpenBSD has no
// blocklistd; the plan stays right for one listening at -c.)
func planBlocklistdSandbox(conf *config, goos string) sandboxPlan {
	var plan sandboxPlan
	if !conf.dryRun {
		plan.unveils = append(plan.unveils, unveilRule{conf.program, "w"})
	}
	plan.unveils = append(plan.unveils, unveilRule{syslogPath(goos), "w"})
	plan.promises = "stdio unix"
	if !conf.dryRun {
		plan.promises = "stdio unix sendfd"
	}
	return plan
}
