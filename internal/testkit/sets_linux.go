package testkit

// One reader of the kernel's sets, nft and ipset alike. It streams:
// holding a listing of a million elements in memory would raise the test
// process's peak memory, which every program it starts afterwards
// reports as its own (exec keeps the high-water mark of the memory it
// replaces).

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ScanSets runs a listing command in the server namespace (nft list set,
// nft list table, ipset list) and calls each with the name of the set and
// the text of each element, as it reads: the address, prefix or range
// first, then what nft or ipset says of it (timeout, expires).
func (n *Net) ScanSets(argv []string, each func(set, elem string)) {
	n.T.Helper()
	cmd := n.Command(argv...)
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		n.T.Fatal(err)
	}
	scanSetListing(bufio.NewScanner(out), each)
	if err := cmd.Wait(); err != nil {
		n.T.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
}

// ReadSetListing is ScanSets for the output of a listing already run.
func ReadSetListing(listing string, each func(set, elem string)) {
	scanSetListing(bufio.NewScanner(strings.NewReader(listing)), each)
}

// scanSetListing reads nft's "set NAME {" ... "elements = { a, b }" and
// ipset's "Name: NAME" ... "Members:" then a member a line.
func scanSetListing(lines *bufio.Scanner, each func(set, elem string)) {
	set, in, ipset := "", false, false
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		switch {
		case strings.HasPrefix(line, "set ") && strings.HasSuffix(line, "{"):
			set, in = strings.Fields(line)[1], false
			continue
		case strings.HasPrefix(line, "Name: "):
			set, in, ipset = strings.TrimPrefix(line, "Name: "), false, true
			continue
		case strings.HasPrefix(line, "elements = {"):
			in, line = true, strings.TrimPrefix(line, "elements = {")
		case line == "Members:":
			in = true
			continue
		case !in:
			continue
		}
		if ipset {
			if line != "" {
				each(set, line)
			}
			continue
		}
		for _, e := range strings.Split(strings.TrimSuffix(line, "}"), ",") {
			if e = strings.Join(strings.Fields(e), " "); e != "" {
				each(set, e)
			}
		}
		in = !strings.HasSuffix(line, "}")
	}
}

// NftListing is the argv that lists a set of nft's table inet iblock.
func NftListing(set string) []string { return []string{"nft", "list", "set", "inet", "iblock", set} }

// IpsetListing is the argv that lists an ipset.
func IpsetListing(set string) []string { return []string{"ipset", "list", set} }

// Elements returns the elements a listing command prints (see ScanSets).
func (n *Net) Elements(argv ...string) []string {
	n.T.Helper()
	var elems []string
	n.ScanSets(argv, func(_, e string) { elems = append(elems, e) })
	return elems
}

// NftSet returns the elements of a set of table inet iblock, each with
// its timeout and expiry.
func (n *Net) NftSet(set string) []string { n.T.Helper(); return n.Elements(NftListing(set)...) }

// IpsetSet returns the members of an ipset, each with its timeout.
func (n *Net) IpsetSet(set string) []string { n.T.Helper(); return n.Elements(IpsetListing(set)...) }

// NftAddresses returns the addresses (or prefixes) in a set of table inet
// iblock, without their timeouts.
func (n *Net) NftAddresses(set string) map[string]bool {
	n.T.Helper()
	addrs := map[string]bool{}
	n.ScanSets(NftListing(set), func(_, e string) { addrs[strings.Fields(e)[0]] = true })
	return addrs
}

// nftElement returns addr's element of a set of table inet iblock.
func (n *Net) nftElement(set, addr string) (string, bool) {
	n.T.Helper()
	for _, e := range n.NftSet(set) {
		if strings.Fields(e)[0] == addr {
			return e, true
		}
	}
	return "", false
}

// NftHas reports whether a set of table inet iblock holds addr.
func (n *Net) NftHas(set, addr string) bool {
	n.T.Helper()
	_, ok := n.nftElement(set, addr)
	return ok
}

// NftSets returns every set of table inet iblock, each element with the
// time it has left, or -1 when it does not expire.
func (n *Net) NftSets() map[string]map[string]time.Duration {
	n.T.Helper()
	return n.setsWithTimeLeft([]string{"nft", "list", "table", "inet", "iblock"}, nftExpiry)
}

// IpsetSets returns every ipset, each member with the time it has left,
// or -1 when it does not expire.
func (n *Net) IpsetSets() map[string]map[string]time.Duration {
	n.T.Helper()
	return n.setsWithTimeLeft([]string{"ipset", "list"}, ipsetTimeout)
}

// setsWithTimeLeft reads the sets that argv lists, each element's time
// left read from its listing by timeLeft.
func (n *Net) setsWithTimeLeft(argv []string, timeLeft func(string) (time.Duration, bool)) map[string]map[string]time.Duration {
	n.T.Helper()
	sets := map[string]map[string]time.Duration{}
	n.ScanSets(argv, func(set, e string) {
		if sets[set] == nil {
			sets[set] = map[string]time.Duration{}
		}
		left, ok := timeLeft(e)
		if !ok {
			left = -1
		}
		sets[set][strings.Fields(e)[0]] = left
	})
	return sets
}

var nftDuration = regexp.MustCompile(`(\d+)(ms|d|h|m|s)`)

// nftExpiry reads what nft shows after "expires" (e.g. 9d23h59m58s120ms)
// in an element's text.
func nftExpiry(elem string) (time.Duration, bool) {
	_, after, ok := strings.Cut(elem, "expires ")
	if !ok {
		return 0, false
	}
	units := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second, "ms": time.Millisecond}
	var d time.Duration
	for _, m := range nftDuration.FindAllStringSubmatch(strings.Fields(after)[0], -1) {
		v, _ := strconv.Atoi(m[1])
		d += time.Duration(v) * units[m[2]]
	}
	return d, true
}

// ipsetTimeout reads the seconds ipset shows after "timeout" in a member's text.
func ipsetTimeout(elem string) (time.Duration, bool) {
	f := strings.Fields(elem)
	if len(f) < 3 || f[1] != "timeout" {
		return 0, false
	}
	s, err := strconv.Atoi(f[2])
	return time.Duration(s) * time.Second, err == nil
}

// TimeLeft reads the time an element has left, as nft ("expires
// 9d23h59m58s") or ipset ("timeout 863999") shows it.
func TimeLeft(elem string) (time.Duration, bool) {
	if d, ok := nftExpiry(elem); ok {
		return d, true
	}
	return ipsetTimeout(elem)
}
