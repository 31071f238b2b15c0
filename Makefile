# iblock. Portable make: BSD make (OpenBSD, FreeBSD, NetBSD) and GNU make.

# The version of the Debian package, and of nothing else yet.
VERSION =	1.0.0

PREFIX ?=	/usr/local
BINDIR ?=	$(PREFIX)/bin
# The manual: in share/man on Linux (the FHS), in man on the BSDs.
OS !=		case "$$(uname -s)" in Linux) echo linux ;; *) echo other ;; esac
MANDIR_linux =	$(PREFIX)/share/man
MANDIR_other =	$(PREFIX)/man
MANDIR ?=	$(MANDIR_$(OS))
# Linux only: iblock-sets, run by root; systemd's units and sysusers
# files; the files shared by every architecture; and the configuration,
# in /etc whatever PREFIX is (the units name it).
SBINDIR ?=	$(PREFIX)/sbin
LIBDIR ?=	$(PREFIX)/lib
UNITDIR ?=	$(LIBDIR)/systemd/system
SYSUSERSDIR ?=	$(LIBDIR)/sysusers.d
DATADIR ?=	$(PREFIX)/share
SYSCONFDIR ?=	/etc
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

# As root on Linux: iblock -b blocklistd against the real blocklistd, built
# from NetBSD's blocklist sources and installed under BLOCKLISTD (see
# doc/testing.md), in network namespaces.
test-blocklistd:
	cd test/netns && BLOCKLISTD=$(BLOCKLISTD) $(GO) test -count=1 -tags blocklistd -run '^TestRealBlocklistd'

# The binary and the manual; on Linux, also what a working trap needs
# (install-linux), as the Debian package installs it.
install: iblock
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 iblock $(DESTDIR)$(BINDIR)/iblock
	install -m 644 iblock.8 $(DESTDIR)$(MANDIR)/man8/iblock.8
	if [ $(OS) = linux ]; then $(MAKE) install-linux; fi

# The examples name the programs in /usr/local/bin and /usr/local/sbin:
# the installed units and inetd.conf name them where they are installed.
LINUXUNITS =	iblock.socket iblock@.service iblock-save@.service \
		iblock-save@.timer iblock-iptables.service
CONFFILES =	iblock.nft allow ipset.conf iptables.rules ip6tables.rules
PATHS =		-e 's|/usr/local/bin/iblock|$(BINDIR)/iblock|g' \
		-e 's|/usr/local/sbin/iblock-sets|$(SBINDIR)/iblock-sets|g' \
		-e 's|/etc/iblock/|$(SYSCONFDIR)/iblock/|g'

# iblock-sets, the units, the user, the drop-in of nftables.service, the
# file /etc/nftables.conf can include, the inetd.conf lines, and the
# configuration in /etc/iblock, which a second install leaves as it is.
install-linux:
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR)/nftables.service.d \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DATADIR)/iblock/nft \
		$(DESTDIR)$(DATADIR)/doc/iblock/examples $(DESTDIR)$(SYSCONFDIR)/iblock
	install -m 755 examples/linux/iblock-sets $(DESTDIR)$(SBINDIR)/iblock-sets
	for f in $(LINUXUNITS) nftables.service.d/iblock.conf; do \
		sed $(PATHS) examples/linux/$$f >$(DESTDIR)$(UNITDIR)/$$f || exit 1; \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$f || exit 1; \
	done
	install -m 644 examples/linux/iblock.sysusers $(DESTDIR)$(SYSUSERSDIR)/iblock.conf
	sed $(PATHS) packaging/include.nft >$(DESTDIR)$(DATADIR)/iblock/nft/iblock.nft
	sed $(PATHS) examples/linux/inetd.conf >$(DESTDIR)$(DATADIR)/doc/iblock/examples/inetd.conf
	chmod 644 $(DESTDIR)$(DATADIR)/iblock/nft/iblock.nft $(DESTDIR)$(DATADIR)/doc/iblock/examples/inetd.conf
	for f in $(CONFFILES); do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/iblock/$$f ]; then \
			echo "kept $(DESTDIR)$(SYSCONFDIR)/iblock/$$f as it is"; \
		else \
			install -m 644 examples/linux/$$f $(DESTDIR)$(SYSCONFDIR)/iblock/$$f || exit 1; \
		fi; \
	done

# The Debian package, iblock_$(VERSION)_<arch>.deb: make install into a
# directory of its own, then dpkg-deb (see packaging/mkdeb). iblock is in
# /usr/sbin, as Debian keeps the programs that inetd or systemd start
# for root.
deb: iblock
	rm -rf deb-root
	$(MAKE) install DESTDIR=$$(pwd)/deb-root PREFIX=/usr BINDIR=/usr/sbin
	sh packaging/mkdeb deb-root $(VERSION)

clean:
	rm -rf iblock deb-root iblock_*.deb

.PHONY: all test fuzz demo bench bench-sets test-blocklistd install install-linux deb clean
