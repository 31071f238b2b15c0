package main

// Fuzz targets for what comes from outside iblock: table names, allowlist
// files, and the command line on its way to the argv of the programs iblock
// runs. make test runs each briefly, make fuzz for longer. The seeds are in
// testdata/fuzz/<target>, where go test also runs them as plain tests.

import (
	"net/netip"
	"strings"
	"testing"
)

var fuzzBackends = []string{"pf", "npf", "nft", "ipset"}

func FuzzTableName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string, b uint8) {
		backend := fuzzBackends[int(b)%len(fuzzBackends)]
		if b, _ := backendNamed(backend); checkTable(name, b) != nil {
			return
		}
		if name == "" || name[0] == '-' || len(name) > maxTableLen {
			t.Fatalf("accepted table %q for %s", name, backend)
		}
		if backend == "nft" && strings.ContainsRune("0123456789", rune(name[0])) {
			t.Fatalf("accepted nft set %q, which nft reads as a number", name)
		}
		if backend == "ipset" && len(familySet(name, true)) > maxTableLen {
			t.Fatalf("accepted ipset %q, whose IPv6 set is too long for ipset", name)
		}
		for _, c := range name {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", c) {
				t.Fatalf("accepted table %q with %q", name, c)
			}
		}
	})
}

func FuzzAllowlist(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string, raw []byte) {
		list, err := parseAllowlist(text)
		if err != nil {
			return
		}
		for _, p := range list {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("allowlist %q gave entry %v", text, p)
			}
		}
		if addr, ok := netip.AddrFromSlice(raw); ok {
			addr = addr.Unmap()
			want := false
			for _, p := range list {
				want = want || p.Contains(addr)
			}
			if allowed(list, addr) != want {
				t.Fatalf("allowed(%v) disagrees with the list %v", addr, list)
			}
		}
	})
}

// fixedArguments are the only arguments starting with "-" that may reach a
// program; each comes from iblock, never from its input.
var fixedArguments = map[string]bool{"-n": true, "-t": true, "-T": true, "-k": true, "-exist": true}

// fuzzAllowlist holds addresses near those of the seeds.
var fuzzAllowlist = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.200/32"), netip.MustParsePrefix("198.51.100.0/26"),
	netip.MustParsePrefix("2001:db8::1:0/112"), netip.MustParsePrefix("127.0.0.0/8"),
}

func FuzzFlagsToArgv(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string, raw []byte, os uint8) {
		goos := []string{"openbsd", "freebsd", "netbsd", "linux"}[int(os)%4]
		conf, err := parseArgs(strings.Split(line, "\x00"), goos)
		addr, ok := netip.AddrFromSlice(raw)
		if err != nil || !ok {
			return
		}
		addr = addr.Unmap()
		target, _ := banTarget(conf, fuzzAllowlist, addr)
		if p, err := netip.ParsePrefix(target); err == nil && !allowed(fuzzAllowlist, addr) {
			for _, a := range fuzzAllowlist {
				if a.Overlaps(p) {
					t.Fatalf("peer %v: %s covers allowlisted %v", addr, target, a)
				}
			}
		}
		for _, argv := range conf.backend.banCommands(conf, target, addr.Is6()) {
			checkArgv(t, conf, argv, target, addr)
		}
	})
}

// checkArgv fails unless argv starts with an absolute path, has no argument
// from the input that starts with "-", and names the peer only as a valid
// address or network of its family.
func checkArgv(t *testing.T, conf *config, argv []string, target string, addr netip.Addr) {
	t.Helper()
	if len(argv) < 2 || !strings.HasPrefix(argv[0], "/") {
		t.Fatalf("argv %q does not start with an absolute path", argv)
	}
	sawTarget := false
	for _, arg := range argv[1:] {
		switch {
		case arg == target || conf.backend == nft && arg == nftElement(target):
			sawTarget = true
			p, err := netip.ParsePrefix(target)
			if err != nil {
				a, aerr := netip.ParseAddr(target)
				p, err = netip.PrefixFrom(a, a.BitLen()), aerr
			}
			if err != nil || p.Addr().Is6() != addr.Is6() || !p.Contains(addr) || p.Bits() < 16 {
				t.Fatalf("argv %q bans %q for peer %v", argv, arg, addr)
			}
		case strings.HasPrefix(arg, "-") && !fixedArguments[arg]:
			t.Fatalf("argv %q has %q, an option from the input", argv, arg)
		}
	}
	if !sawTarget {
		t.Fatalf("argv %q does not name the peer", argv)
	}
}
