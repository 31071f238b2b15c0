package main

import (
	"io"
	"net"
	"sort"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var pfBan = []string{"P -t iblocked -T add 127.0.0.1", "P -k 127.0.0.1"}

// runPfBan runs one connection through bin, and checks that it banned
// as the contract says.
func runPfBan(t *testing.T, bin string) connection {
	t.Helper()
	fk := newFakeDir(t)
	tc := connCase{run: pfBan}
	c := runInetd(t, bin, fk, scanner4, tc.args(t, fk)...)
	c.wantExit(t, exitOK)
	var want [][]string
	for _, line := range tc.run {
		want = append(want, tc.expand(fk, line))
	}
	c.wantArgv(t, want...)
	return c
}

func TestNoSyslogSocketStillBlocks(t *testing.T) {
	t.Parallel()
	bin, _ := iblockWithOtherLog(t)
	runPfBan(t, bin)
}

// stalledSyslogd listens on socket and never reads: it stands for a syslogd
// that hangs. Its queue is filled before it returns, so that any datagram
// sent to it would wait.
func stalledSyslogd(t *testing.T, socket string) {
	t.Helper()
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: socket}); err != nil {
		t.Fatal(err)
	}
	for sent := 0; ; sent++ {
		if _, err := unix.Write(fd, []byte("filler")); err == unix.EAGAIN {
			return
		} else if err != nil || sent > 100000 {
			t.Fatalf("filling the stalled syslogd's queue: %v after %d", err, sent)
		}
	}
}

// TestStalledSyslogdNeitherDelaysNorPreventsTheBan runs iblock against a
// syslogd whose queue is full, taking turns with runs that log to the
// tests' syslogd, and compares the medians: the stall may add no more than
// iblock's whole logging budget, with a margin.
func TestStalledSyslogdNeitherDelaysNorPreventsTheBan(t *testing.T) {
	t.Parallel()
	bin, socket := iblockWithOtherLog(t)
	stalledSyslogd(t, socket)
	var stalled, normal []time.Duration
	for i := 0; i < 5; i++ {
		stalled = append(stalled, runPfBan(t, bin).elapsed)
		normal = append(normal, runPfBan(t, iblockBin).elapsed)
	}
	extra := median(stalled) - median(normal)
	report(t, "a stalled syslogd adds %v to a ban (median of 5: %v stalled, %v with a syslogd that reads; logging budget %v)",
		extra.Round(100*time.Microsecond), median(stalled).Round(100*time.Microsecond),
		median(normal).Round(100*time.Microsecond), logBudget)
	if extra > 2*logBudget {
		t.Errorf("a stalled syslogd adds %v, more than twice the logging budget of %v", extra, logBudget)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestStreamSyslogSocketGetsNewlineFramedLines runs iblock against a syslogd
// that listens on a stream socket, as syslog-ng can: the line must arrive,
// ended by a newline.
func TestStreamSyslogSocketGetsNewlineFramedLines(t *testing.T) {
	t.Parallel()
	bin, socket := iblockWithOtherLog(t)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		data, _ := io.ReadAll(conn)
		got <- string(data)
	}()
	c := runPfBan(t, bin)
	ln.Close() // no connection came, if it was not accepted yet
	want := "<29>iblock[" + strconv.Itoa(c.pid) + "]: blocking 127.0.0.1\n"
	if line := <-got; line != want {
		t.Errorf("the stream syslogd received %q, want %q", line, want)
	}
}

// TestLineAfterAFailedDialDialsAgain sends a line while nothing listens,
// then one after a syslogd has started.
func TestLineAfterAFailedDialDialsAgain(t *testing.T) {
	socket := t.TempDir() + "/log"
	l := &logger{fd: -1, path: socket, stderr: -1, tag: "iblock[1]: "}
	defer l.close()
	l.notice("before")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l.notice("after")
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 128)
	n, err := ln.Read(buf)
	if got := string(buf[:max(n, 0)]); got != "<29>iblock[1]: after" {
		t.Errorf("the syslogd received %q, %v", got, err)
	}
}
