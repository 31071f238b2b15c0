package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// BenchmarkPerConnection measures what inetd pays for each connection:
// from starting the child with the accepted socket as fds 0, 1 and 2 until
// it has exited. iblock and a C child doing the C original's work
// (bench/child.c) take turns in one run, with the same do-nothing helper,
// so that the ratio survives a noisy machine. "make bench" runs it.
func BenchmarkPerConnection(b *testing.B) {
	dir := b.TempDir()
	noop, child := filepath.Join(dir, "noop"), filepath.Join(dir, "child")
	for out, src := range map[string]string{noop: "bench/noop.c", child: "bench/child.c"} {
		if msg, err := exec.Command("cc", "-O2", "-o", out, src).CombinedOutput(); err != nil {
			b.Fatalf("cc %s: %v\n%s", src, err, msg)
		}
	}
	iblock := filepath.Join(dir, "iblock")
	if err := testkit.Build(iblock, ""); err != nil { // the shipped build: syslog at /dev/log
		b.Fatal(err)
	}
	stop, err := ensureSyslogSocket()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cArgs := []string{child, noop}
	goArgs := []string{iblock, "-w", "/dev/null", "-b", "pf", "-d", noop}
	var cTime, goTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cTime += timeConnection(b, ln, cArgs)
		goTime += timeConnection(b, ln, goArgs)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(cTime.Microseconds())/n, "C-µs/conn")
	b.ReportMetric(float64(goTime.Microseconds())/n, "iblock-µs/conn")
	b.ReportMetric(float64(goTime)/float64(cTime), "iblock/C")
}

// timeConnection connects to ln and times argv run with the accepted socket
// as fds 0, 1 and 2.
func timeConnection(b *testing.B, ln net.Listener, argv []string) time.Duration {
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	sock, err := conn.(*net.TCPConn).File()
	conn.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer sock.Close()
	start := time.Now()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Files: []*os.File{sock, sock, sock}})
	if err != nil {
		b.Fatal(err)
	}
	st, err := p.Wait()
	elapsed := time.Since(start)
	if err != nil || !st.Success() {
		b.Fatalf("%s: %v %v", argv[0], err, st)
	}
	return elapsed
}

// ensureSyslogSocket makes sure something listens on /dev/log, so that
// both children really send their line. Where no syslogd runs, it listens
// there itself for the benchmark's length.
func ensureSyslogSocket() (stop func(), err error) {
	if c, err := net.Dial("unixgram", "/dev/log"); err == nil {
		c.Close()
		return func() {}, nil
	}
	if _, err := os.Lstat("/dev/log"); err == nil {
		return nil, errors.New("/dev/log exists but does not answer")
	}
	sink, err := testkit.ListenSyslog("/dev/log")
	if err != nil {
		return nil, errors.New("no syslogd, and /dev/log cannot be created: " + err.Error())
	}
	return func() { sink.Close(); os.Remove("/dev/log") }, nil
}
