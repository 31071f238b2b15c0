package main

import (
	"net/netip"
	"testing"
)

func TestAllowlistParsesAddressesPrefixesAndComments(t *testing.T) {
	list, err := parseAllowlist("# comment\n\n  192.0.2.7  \n198.51.100.0/24 # office\n2001:db8::/32\n::ffff:203.0.113.9\n203.0.113.130/25\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.7/32", "198.51.100.0/24", "2001:db8::/32", "203.0.113.9/32", "203.0.113.128/25"}
	if len(list) != len(want) {
		t.Fatalf("got %v", list)
	}
	for i := range want {
		if list[i].String() != want[i] {
			t.Errorf("entry %d: %v, want %s", i, list[i], want[i])
		}
	}
	for addr, want := range map[string]bool{
		"192.0.2.7": true, "192.0.2.8": false, "198.51.100.200": true, "2001:db8:1::5": true,
		"2001:db9::1": false, "203.0.113.9": true, "203.0.113.200": true, "127.0.0.1": false,
	} {
		if got := allowed(list, netip.MustParseAddr(addr)); got != want {
			t.Errorf("allowed(%s) = %v", addr, got)
		}
	}
}

func TestAllowlistRejectsWhatIsNotAnAddress(t *testing.T) {
	for _, line := range []string{"192.0.2.300", "example.org", "192.0.2.0/33", "fe80::1%eth0", "192.0.2.1 192.0.2.2", "::ffff:0:0/64"} {
		if _, err := parseAllowlist("192.0.2.1\n" + line + "\n"); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
}

func TestDefaultAllowlistIsLoopback(t *testing.T) {
	list, err := loadAllowlist("")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "127.255.0.3": true, "::1": true, "192.0.2.1": false, "::2": false} {
		if got := allowed(list, netip.MustParseAddr(addr)); got != want {
			t.Errorf("allowed(%s) = %v", addr, got)
		}
	}
	if list, err := loadAllowlist("/dev/null"); err != nil || len(list) != 0 {
		t.Errorf("/dev/null: %v, %v", list, err)
	}
}

func TestHostAndLinkLocalPeersAreSparedWhateverTheAllowlist(t *testing.T) {
	host := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	allow := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	for peer, want := range map[string]string{
		"192.0.2.1": "an address of this host", "2001:db8::1": "an address of this host",
		"169.254.3.4": "link-local", "fe80::1": "link-local",
		"198.51.100.9": "allowlisted", "192.0.2.2": "", "2001:db8::2": "", "127.0.0.1": "", "::1": "",
	} {
		if got := spared(allow, host, netip.MustParseAddr(peer)); got != want {
			t.Errorf("spared(%s) = %q, want %q", peer, got, want)
		}
	}
}

func TestHostAddressesLeaveLoopbackToTheAllowlist(t *testing.T) {
	for _, a := range hostAddresses() {
		if a.IsLoopback() || a.Is4In6() || a.Zone() != "" {
			t.Errorf("host address %v: loopback, mapped or zoned", a)
		}
	}
}

func TestPrefixBanNeverCoversAnAddressOfThisHost(t *testing.T) {
	conf := &config{bits4: 24, bits6: 64}
	host := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	for peer, want := range map[string]string{"192.0.2.7": "192.0.2.7", "2001:db8::7": "2001:db8::7", "198.51.100.7": "198.51.100.0/24"} {
		if got, _ := banTarget(conf, withHost(nil, host), netip.MustParseAddr(peer)); got != want {
			t.Errorf("%s: banned %s, want %s", peer, got, want)
		}
	}
}

func TestShippedLinuxAllowFileIsAnAllowlistThatKeepsLoopback(t *testing.T) {
	list, err := loadAllowlist("examples/linux/allow")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "192.0.2.1": false} {
		if got := allowed(list, netip.MustParseAddr(addr)); got != want {
			t.Errorf("examples/linux/allow: allowed(%s) = %v", addr, got)
		}
	}
}

// BenchmarkHostAddresses is what reading this host's addresses adds to
// each connection.
func BenchmarkHostAddresses(b *testing.B) {
	for range b.N {
		hostAddresses()
	}
}
