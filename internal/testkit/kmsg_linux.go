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
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// logAllNetns is the sysctl without which the kernel discards what "log"
// statements write from any network namespace but the first.
const logAllNetns = "/proc/sys/net/netfilter/nf_log_all_netns"

var (
	logAllNetnsMu    sync.Mutex
	logAllNetnsUsers int
	logAllNetnsOld   []byte
)

// enableNetnsLogging sets nf_log_all_netns to 1 while at least one test of
// this process needs it, and puts the old value back after the last one.
func enableNetnsLogging(t *testing.T) {
	t.Helper()
	logAllNetnsMu.Lock()
	defer logAllNetnsMu.Unlock()
	if logAllNetnsUsers == 0 {
		old, err := os.ReadFile(logAllNetns)
		if err != nil {
			SkipOrFail(t, "no "+logAllNetns+": "+err.Error())
		}
		if err := os.WriteFile(logAllNetns, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		logAllNetnsOld = old
	}
	logAllNetnsUsers++
	t.Cleanup(func() {
		logAllNetnsMu.Lock()
		defer logAllNetnsMu.Unlock()
		if logAllNetnsUsers--; logAllNetnsUsers == 0 {
			os.WriteFile(logAllNetns, logAllNetnsOld, 0o644)
		}
	})
}

// Kmsg collects the kernel log's messages from its start on.
type Kmsg struct {
	mu   sync.Mutex
	msgs []string
}

// FollowKmsg starts reading /dev/kmsg at its end, with netfilter logging
// from network namespaces switched on, until the test ends.
func FollowKmsg(t *testing.T) *Kmsg {
	t.Helper()
	NeedRoot(t)
	enableNetnsLogging(t)
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
