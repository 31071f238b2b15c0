// Package fresh does what a newcomer does: the README's two commands,
// make demo and make test, on fresh minimal Debian systems that have
// make and Go and little else, as root and as an unprivileged user. Each
// system is a root file system built once by mmdebstrap (cached in
// /var/cache/iblock-test, as the booted tests' are), copied for the
// test, with the source tree copied in and the host's Go toolchain and
// module cache bound read-only; systemd-nspawn runs the commands there,
// offline, without IBLOCK_E2E, so that every test a missing tool stops
// must skip, and say which tool.
//
// The test needs root, systemd-nspawn and mmdebstrap; go test -short
// skips it.
//
//	cd test/fresh && go test -count=1
package fresh
