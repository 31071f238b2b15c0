package testkit

// The scanner side of a burst (see Net.Burst): the test binary, run in
// the scanner namespace with IBLOCK_BURST set.

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	BurstSize        = 1000
	burstConcurrency = 64
)

// burstResult is what one scanner of a burst saw.
type burstResult struct {
	From     string
	Start    time.Time // when it connected
	Took     time.Duration
	Received int
	Err      string
}

// BurstAddress is the source address of the i-th scanner of a burst.
func BurstAddress(i int) string {
	a := netip.MustParseAddr("198.18.0.0").As4()
	a[2], a[3] = byte(i>>8), byte(i)
	return netip.AddrFrom4(a).String()
}

// burstEnv starts the scanner side of a burst in a re-executed test binary.
const burstEnv = "IBLOCK_BURST"

// runBurstIfAsked makes the test binary the scanner side of a burst and
// exit when Net.Burst started it; otherwise it returns. Main calls it.
func runBurstIfAsked() {
	if spec := os.Getenv(burstEnv); spec != "" {
		os.Exit(runBurst(spec))
	}
}

// runBurst is the scanner side, run as a process in the scanner namespace
// (IBLOCK_BURST=host:port,port,...): it connects from BurstSize addresses,
// burstConcurrency at a time, reads until each connection closes, and
// prints the results as JSON.
func runBurst(spec string) int {
	host, portList, _ := strings.Cut(spec, ":")
	ports := strings.Split(portList, ",")
	results := make([]burstResult, BurstSize)
	slots := make(chan struct{}, burstConcurrency)
	var wg sync.WaitGroup
	for i := range results {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			results[i] = hitTrap(BurstAddress(i+1), net.JoinHostPort(host, ports[i%len(ports)]))
		}()
	}
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		return 1
	}
	return 0
}

func hitTrap(from, to string) burstResult {
	r := burstResult{From: from, Start: time.Now()}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", to)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := ReadAll(c)
	r.Took, r.Received = time.Since(r.Start), len(got)
	if err != nil {
		r.Err = err.Error()
	}
	return r
}
