package testkit

// A syslogd on a unix datagram socket, as iblock's syslog(3) expects: it
// files iblock's lines by pid, so that a test reads the lines of its own
// run (Lines, Count, Matching), and Sync waits until every line sent
// before it has been read.

import (
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// LogLine is one line iblock sent to syslog.
type LogLine struct {
	Pri int
	Msg string
}

func (l LogLine) String() string { return "<" + strconv.Itoa(l.Pri) + ">" + l.Msg }

// Syslogd is a stand-in syslogd on a unix datagram socket. It files
// lines by the pid in their tag, so that tests running at once can each
// read their own.
//
// pids are reused (pid_max is 32768 on many systems, and a burst test
// starts thousands of processes), so every datagram is numbered as it is
// filed, and a process's lines are those of its pid filed after a mark
// taken before it started.
type Syslogd struct {
	Path  string
	conn  *net.UnixConn
	mu    sync.Mutex
	seq   int // datagrams filed so far
	lines map[int][]filedLine
	ended map[int]int // the pid's last end marker, by its number
	bad   []string    // lines not in iblock's format
}

// filedLine is a line and the number of its datagram.
type filedLine struct {
	seq int
	LogLine
}

// iblockLine is the whole format: priority, tag with pid, message; no time stamp.
var iblockLine = regexp.MustCompile(`^<(\d+)>iblock\[(\d+)\]: (.*)$`)
var endLine = regexp.MustCompile(`^end (\d+)$`)

// ListenSyslog starts a Syslogd on a new socket at path.
func ListenSyslog(path string) (*Syslogd, error) {
	var conn *net.UnixConn
	err := withDatagramQueue(systemdDatagramQueue, func() (err error) {
		conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		return err
	})
	if err != nil {
		return nil, err
	}
	s := &Syslogd{Path: path, conn: conn, lines: map[int][]filedLine{}, ended: map[int]int{}}
	go s.serve()
	return s, nil
}

func (s *Syslogd) serve() {
	buf := make([]byte, 65536)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		s.file(string(buf[:n]))
	}
}

func (s *Syslogd) file(datagram string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if m := endLine.FindStringSubmatch(datagram); m != nil {
		pid, _ := strconv.Atoi(m[1])
		s.ended[pid] = s.seq
		return
	}
	m := iblockLine.FindStringSubmatch(datagram)
	if m == nil {
		s.bad = append(s.bad, datagram)
		return
	}
	pri, _ := strconv.Atoi(m[1])
	pid, _ := strconv.Atoi(m[2])
	s.lines[pid] = append(s.lines[pid], filedLine{s.seq, LogLine{pri, m[3]}})
}

// mark returns a number that the lines of a process started after it
// exceed: every datagram sent before it has then been filed.
func (s *Syslogd) mark(t *testing.T) int {
	t.Helper()
	pid := 1<<30 + int(syncSeq.Add(1))
	if _, err := s.Lines(pid, 0); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended[pid]
}

// linesOf returns what the process pid, started after mark since, logged.
// It must have exited: its lines are then filed before the end marker
// this sends.
func (s *Syslogd) linesOf(t *testing.T, pid, since int) []LogLine {
	t.Helper()
	lines, err := s.Lines(pid, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.bad) > 0 {
		t.Errorf("lines not in iblock's format: %q", s.bad)
	}
	return lines
}

// Lines sends an end marker for pid, waits until it is filed, and
// returns the pid's lines filed after mark since.
func (s *Syslogd) Lines(pid, since int) ([]LogLine, error) {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.Path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write([]byte("end " + strconv.Itoa(pid))); err != nil {
		return nil, err
	}
	ended := Eventually(10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ended[pid] > since
	})
	if !ended {
		return nil, errors.New("the test syslogd did not receive the end marker")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []LogLine
	for _, l := range s.lines[pid] {
		if l.seq > since {
			lines = append(lines, l.LogLine)
		}
	}
	return lines, nil
}

func (s *Syslogd) Close() { s.conn.Close() }

var syncSeq atomic.Int64

// Sync returns once every line sent before it was called has been filed.
func (s *Syslogd) Sync(t *testing.T) { s.mark(t) }

// Count returns how many lines, from any process, are exactly msg.
func (s *Syslogd) Count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, lines := range s.lines {
		for _, l := range lines {
			if l.Msg == msg {
				n++
			}
		}
	}
	return n
}

// Matching returns the lines, from any process, that contain text.
func (s *Syslogd) Matching(text string) []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []LogLine
	for _, lines := range s.lines {
		for _, l := range lines {
			if strings.Contains(l.Msg, text) {
				found = append(found, l.LogLine)
			}
		}
	}
	return found
}
