# iblock. Portable make: BSD make (OpenBSD, FreeBSD, NetBSD) and GNU make.

PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/bin
MANDIR ?=	$(PREFIX)/man
GO ?=		go
# How long make fuzz runs each fuzz target. make test tries a number of
# inputs on each instead of a time: with a time, Go's fuzzing fails when the
# time is up while a worker is still busy, as on a busy machine (Go issue
# 75804, fixed in Go 1.27).
FUZZTIME ?=	2m
FUZZTEST =	100000x
FUZZ =		FuzzTableName FuzzAllowlist FuzzFlagsToArgv

# Static: a dynamically linked Go binary starts slower, on every connection.
BUILD =		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w"

all: iblock

iblock: *.go go.mod go.sum
	$(BUILD) -o iblock .

# The test packages: the product's unit and loopback tests at the root,
# then the checks of the shipped files and the system tests (see
# internal/testkit/doc.go). Those of test/netns, test/boot and test/fleet
# need the machine alone: make test runs one package at a time, every
# one even when one fails. test/fresh runs make demo and make test again,
# on fresh Debian systems in containers.
TESTDIRS =	. test/examples test/netns test/boot test/fleet test/fresh

# go vet and a build for every system iblock runs on, then every test. Each
# package is tested from its directory, so that go test shows the
# measurements the tests print.
# Booting systems and bursts of scanners take longer than go test's
# default limit of 10 minutes on a busy machine.
test:
	$(GO) vet ./...
	for os in openbsd freebsd netbsd linux; do \
		for arch in amd64 arm64; do \
			echo "vet and build $$os/$$arch"; \
			GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) vet . || exit 1; \
			GOOS=$$os GOARCH=$$arch $(BUILD) -o /dev/null . || exit 1; \
		done; \
	done
	status=0; for d in $(TESTDIRS); do \
		(cd $$d && GOFLAGS="$$GOFLAGS -timeout=30m" $(GO) test -count=1) || status=1; \
	done; exit $$status
	for f in $(FUZZ); do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTEST) . || exit 1; \
	done

# Each fuzz target for longer. A crash leaves its input in testdata/fuzz.
fuzz:
	for f in $(FUZZ); do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

# A scanner banned on this machine: no root, no firewall.
demo:
	IBLOCK_DEMO=1 $(GO) test -count=1 -run '^$$'

# iblock against a C inetd child, per connection, in one run.
bench:
	$(GO) test -count=1 -run '^$$' -bench PerConnection -benchtime 2000x .

# As root on Linux: the time of one ban at set sizes 0 to 1 000 000, for
# the kernel-side rulesets and iblock behind inetd, with nft and ipset.
bench-sets:
	cd test/netns && IBLOCK_BENCH_SETS=1 $(GO) test -count=1 -timeout 30m -run '^TestBanCostBySetSize$$'

install: iblock
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 iblock $(DESTDIR)$(BINDIR)/iblock
	install -m 644 iblock.8 $(DESTDIR)$(MANDIR)/man8/iblock.8

clean:
	rm -f iblock

.PHONY: all test fuzz demo bench bench-sets install clean
