package testkit

// A reader of the kernel log (/dev/kmsg) for the tests of the kernel-side
// rulesets, whose "log" statements write there. Start it before the
// traffic: it reads only what the kernel logs from then on.
//
//	kmsg := FollowKmsg(t)
//	... traffic ...
//	kmsg.WaitLine(t, "iblock-ban: ", n.KmsgMAC(), KmsgSrc("192.0.2.10"))
//	lines := kmsg.Lines("iblock-syn: ")

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel discards what "log" statements write from any network
// namespace but the first unless the host-wide sysctl
// net.netfilter.nf_log_all_netns is 1. While it is 1, anyone who can make
// a network namespace (any user, through a user namespace) can write lines
// into the host's kernel log. So a test that reads those lines sets it
// only while it runs, and the last such test of every test process on the
// machine puts the old value back. Each holds a read lock on the byte
// netnsLoggingUsers of netnsLoggingLock while it needs the sysctl; the
// byte netnsLoggingTurn serialises setting and putting back. The first
// saves the old value in netnsLoggingSaved: a test process that was
// killed leaves it there, and the next one to finish puts it back.
const (
	logAllNetns       = "/proc/sys/net/netfilter/nf_log_all_netns"
	netnsLoggingDir   = "/run/iblock-test"
	netnsLoggingLock  = netnsLoggingDir + "/nf_log_all_netns.lock"
	netnsLoggingSaved = netnsLoggingDir + "/nf_log_all_netns.saved"
	netnsLoggingUsers = 0
	netnsLoggingTurn  = 1
)

// needNetnsLogging sets nf_log_all_netns to 1 until the test ends, or
// skips the test (fails it under IBLOCK_E2E=1) when it cannot: in a
// container /proc/sys is read-only, or the sysctl is not there at all.
func needNetnsLogging(t *testing.T) {
	t.Helper()
	fd, err := lockNetnsLogging()
	if err != nil {
		t.Fatal(err)
	}
	if err := enableNetnsLogging(); err != nil {
		unlockRange(fd, netnsLoggingTurn)
		unix.Close(fd)
		SkipOrFail(t, "needs the host-wide sysctl net.netfilter.nf_log_all_netns=1 to read the kernel log of "+
			"network namespaces, and cannot set it: "+err.Error())
	}
	err = lockRange(fd, unix.F_RDLCK, netnsLoggingUsers, unix.F_OFD_SETLK)
	unlockRange(fd, netnsLoggingTurn)
	t.Cleanup(func() {
		if err := releaseNetnsLogging(fd); err != nil {
			t.Errorf("nf_log_all_netns: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lockNetnsLogging opens the lock file and waits for its turn.
func lockNetnsLogging() (int, error) {
	if err := os.MkdirAll(netnsLoggingDir, 0o755); err != nil {
		return -1, err
	}
	fd, err := unix.Open(netnsLoggingLock, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", netnsLoggingLock, err)
	}
	if err := lockRange(fd, unix.F_WRLCK, netnsLoggingTurn, unix.F_OFD_SETLKW); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// enableNetnsLogging saves the sysctl's value, unless a saved value is
// already there, and sets it to 1. Its caller has the turn.
func enableNetnsLogging() error {
	old, err := os.ReadFile(logAllNetns)
	if err != nil {
		return err
	}
	_, err = os.Stat(netnsLoggingSaved)
	first := errors.Is(err, fs.ErrNotExist)
	if first {
		tmp := netnsLoggingSaved + ".new"
		if err := os.WriteFile(tmp, old, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, netnsLoggingSaved); err != nil {
			return err
		}
	}
	if err := os.WriteFile(logAllNetns, []byte("1\n"), 0o644); err != nil {
		if first {
			os.Remove(netnsLoggingSaved)
		}
		return err
	}
	return nil
}

// releaseNetnsLogging ends a test's use of the sysctl, and puts the saved
// value back when no test of any process uses it any more.
func releaseNetnsLogging(fd int) error {
	defer unix.Close(fd)
	if err := lockRange(fd, unix.F_WRLCK, netnsLoggingTurn, unix.F_OFD_SETLKW); err != nil {
		return err
	}
	unlockRange(fd, netnsLoggingUsers)
	err := lockRange(fd, unix.F_WRLCK, netnsLoggingUsers, unix.F_OFD_SETLK)
	if errors.Is(err, unix.EAGAIN) {
		return nil // another test still reads the kernel log; it will put it back
	}
	if err != nil {
		return err
	}
	old, err := os.ReadFile(netnsLoggingSaved)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = os.WriteFile(logAllNetns, old, 0o644)
	}
	if err != nil {
		return fmt.Errorf("cannot put back the value saved in %s: %w", netnsLoggingSaved, err)
	}
	return os.Remove(netnsLoggingSaved)
}

// lockRange locks one byte of the lock file, with an open file
// description's lock: it is this test's own, not the whole process's.
func lockRange(fd int, kind int16, byteAt int64, cmd int) error {
	lk := unix.Flock_t{Type: kind, Whence: io.SeekStart, Start: byteAt, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), cmd, &lk); err != nil {
		return fmt.Errorf("lock %s: %w", netnsLoggingLock, err)
	}
	return nil
}

func unlockRange(fd int, byteAt int64) {
	lockRange(fd, unix.F_UNLCK, byteAt, unix.F_OFD_SETLK)
}

// Kmsg collects the kernel log's messages from its start on.
type Kmsg struct {
	mu   sync.Mutex
	msgs []string
}

// FollowKmsg starts reading /dev/kmsg at its end, with netfilter logging
// from network namespaces switched on, until the test ends. It needs root
// and the host-wide sysctl net.netfilter.nf_log_all_netns (see
// needNetnsLogging), and changes the host: a test calls it once it has
// found every tool it needs, and skips without it.
func FollowKmsg(t *testing.T) *Kmsg {
	t.Helper()
	NeedRoot(t)
	needNetnsLogging(t)
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		SkipOrFail(t, "cannot read /dev/kmsg: "+err.Error())
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	k := &Kmsg{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		k.read(fd, stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		unix.Close(fd)
	})
	return k
}

// read appends each record's message until stop is closed. A read returns
// one record, "level,seq,usec,flags;message\n" then dictionary lines.
func (k *Kmsg) read(fd int, stop chan struct{}) {
	buf := make([]byte, 8192)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			// Wake up now and then to see whether the test has ended.
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 50)
			continue
		case err != nil: // EPIPE: records were overwritten before we read them
			continue
		}
		record := string(buf[:n])
		_, msg, ok := strings.Cut(strings.SplitN(record, "\n", 2)[0], ";")
		if ok {
			k.mu.Lock()
			k.msgs = append(k.msgs, msg)
			k.mu.Unlock()
		}
	}
}

// Lines returns the messages read so far that start with prefix and
// contain every one of substrs.
func (k *Kmsg) Lines(prefix string, substrs ...string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
next:
	for _, m := range k.msgs {
		if !strings.HasPrefix(m, prefix) {
			continue
		}
		for _, s := range substrs {
			if !strings.Contains(m, s) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// WaitLine waits until a message starts with prefix and contains every
// one of substrs, and returns it.
func (k *Kmsg) WaitLine(t *testing.T, prefix string, substrs ...string) string {
	t.Helper()
	var got []string
	WaitUntil(t, 5*time.Second, "no kernel log line "+prefix+strings.Join(substrs, "…"), func() bool {
		got = k.Lines(prefix, substrs...)
		return len(got) > 0
	})
	return got[0]
}

// KmsgSrc is how a netfilter log line names a source address: IPv6 in full,
// every group with its four digits (SRC=2001:0db8:0000:…).
func KmsgSrc(addr string) string {
	return "SRC=" + netip.MustParseAddr(addr).StringExpanded() + " "
}

// KmsgMAC is how a netfilter log line names the veth of test net n:
// the MAC addresses of its two ends, unique to n, so that the lines of
// other tests, in this process or another, do not count.
func (n *Net) KmsgMAC() string {
	return "MAC=" + n.ServerMAC + ":" + n.ScannerMAC + ":"
}
