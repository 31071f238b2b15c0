package fleet

// The price of a forged proof, computed from what makes it, and the docs
// that state it.

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"iblock/internal/testkit"
)

// wireBits is a minimal forged ACK on Ethernet: a 64-byte frame (a
// 54-byte IPv4 TCP segment padded, and its checksum), 8 bytes of preamble
// and 12 of gap.
const wireBits = (64 + 8 + 12) * 8

// TestFleetDocStatesWhatAForgedBanCosts computes what a blind forger
// sends, on average, for one ten-day ban: without SYN cookies the ACK must
// hit one number of 2^32; with them, one of 8 (a minute counter off by 0
// or 1, times 4 MSS values in the low 24 bits). doc/fleet.md,
// doc/linux.md and the README must say so.
func TestFleetDocStatesWhatAForgedBanCosts(t *testing.T) {
	cookies, plain := math.Exp2(32)/(2*4), math.Exp2(32)
	at := func(acks, bitsPerSecond float64) time.Duration {
		return time.Duration(acks * wireBits / bitsPerSecond * float64(time.Second))
	}
	figures := map[string][]string{
		"with SYN cookies": {mantissa(cookies), seconds(at(cookies, 10e9)), minutes(at(cookies, 1e9))},
		"without":          {mantissa(plain), minutes(at(plain, 10e9)), minutes(at(plain, 1e9))},
	}
	for _, doc := range []string{"doc/fleet.md", "doc/linux.md"} {
		text, err := os.ReadFile(testkit.SourcePath(doc))
		if err != nil {
			t.Fatal(err)
		}
		for kind, want := range figures {
			for _, f := range want {
				if !strings.Contains(string(text), f) {
					t.Errorf("%s does not say %q (%s)", doc, f, kind)
				}
			}
		}
	}
	readme, err := os.ReadFile(testkit.SourcePath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{figures["with SYN cookies"][0], figures["with SYN cookies"][1], figures["without"][0]} {
		if !strings.Contains(string(readme), f) {
			t.Errorf("README.md does not say %q", f)
		}
	}
	for kind, f := range figures {
		testkit.Report(t, "a forged ten-day ban %s: %s ACKs, %s at 10 Gb/s, %s at 1 Gb/s", kind, f[0], f[1], f[2])
	}
}

// mantissa writes 536870912 as the docs do: 5.4×10^8.
func mantissa(x float64) string {
	e := math.Floor(math.Log10(x))
	return fmt.Sprintf("%.1f×10^%d", x/math.Pow(10, e), int(e))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }

func minutes(d time.Duration) string { return fmt.Sprintf("%.1f min", d.Minutes()) }
