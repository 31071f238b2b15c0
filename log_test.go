package main

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"iblock/internal/testkit"
)

// pfBan is a plain ban of the scanner, with pf.
var pfBan = connCase{run: []string{"P -t iblocked -T add 127.0.0.1", "P -k 127.0.0.1"}}

func TestNoSyslogSocketStillBlocks(t *testing.T) {
	t.Parallel()
	bin, _ := testkit.IblockWithOtherLog(t)
	pfBan.checkWith(t, bin)
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

// TestStalledSyslogdDoesNotPreventTheBan runs iblock against a syslogd
// whose queue is full: it must ban, where it used to wait in write(2) for
// ever.
func TestStalledSyslogdDoesNotPreventTheBan(t *testing.T) {
	t.Parallel()
	bin, socket := testkit.IblockWithOtherLog(t)
	stalledSyslogd(t, socket)
	pfBan.checkWith(t, bin)
}

// TestStalledSyslogdAddsAtMostTheLoggingBudget has dry runs, which log two
// lines and run nothing, take turns against a stalled syslogd and the
// tests' one, and compares the medians: the stall may add no more than
// iblock's whole logging budget, with a margin.
func TestStalledSyslogdAddsAtMostTheLoggingBudget(t *testing.T) {
	testkit.Slow(t)
	t.Parallel()
	bin, socket := testkit.IblockWithOtherLog(t)
	stalledSyslogd(t, socket)
	dryRun := connCase{flags: []string{"-n"}}
	var stalled, normal []time.Duration
	for i := 0; i < 9; i++ {
		stalled = append(stalled, dryRun.checkWith(t, bin).Elapsed)
		normal = append(normal, dryRun.check(t).Elapsed)
	}
	extra := testkit.Median(stalled) - testkit.Median(normal)
	testkit.Report(t, "a stalled syslogd adds %v to a run that logs two lines (medians of 9: %v, %v with a syslogd that reads; "+
		"each line waits at most %v, a run at most %v)", extra.Round(time.Millisecond), testkit.Median(stalled).Round(time.Millisecond),
		testkit.Median(normal).Round(time.Millisecond), lineWait, logBudget)
	if extra > 2*logBudget {
		t.Errorf("a stalled syslogd adds %v, more than twice the logging budget of %v", extra, logBudget)
	}
}

// TestStreamSyslogSocketGetsNewlineFramedLines runs iblock against a syslogd
// that listens on a stream socket, as syslog-ng can: the line must arrive,
// ended by a newline.
func TestStreamSyslogSocketGetsNewlineFramedLines(t *testing.T) {
	t.Parallel()
	bin, socket := testkit.IblockWithOtherLog(t)
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
	c := pfBan.checkWith(t, bin)
	ln.Close() // no connection came, if it was not accepted yet
	want := "<29>iblock[" + strconv.Itoa(c.Pid) + "]: blocking 127.0.0.1\n"
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

// TestLinesStopWaitingOnceTheBudgetIsSpent sends thirty lines to a syslogd
// that never reads. Each alone may wait lineWait, 1.2 s in all; the run's
// budget stops that after about three. A busy machine wakes a poll late,
// so the bound is ten lines' worth, still far below thirty.
func TestLinesStopWaitingOnceTheBudgetIsSpent(t *testing.T) {
	t.Parallel()
	socket := t.TempDir() + "/log"
	stalledSyslogd(t, socket)
	l := &logger{fd: -1, path: socket, stderr: -1, tag: "iblock[1]: "}
	defer l.close()
	for i := 0; i < 30; i++ {
		l.notice("line " + strconv.Itoa(i))
	}
	if l.waited < logBudget || l.waited >= 10*lineWait {
		t.Errorf("thirty lines waited %v in all, want the budget of %v and less than %v", l.waited, logBudget, 10*lineWait)
	}
}
