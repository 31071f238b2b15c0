// Package fleet tests iblock with CrowdSec: one trap host, a booted
// Debian system whose CrowdSec agent reads the journal, reports over TLS
// to a CrowdSec local API, whose bouncers ban on every host of the fleet,
// all in network namespaces on one bridge.
//
// The tests need root, crowdsec, cscli, the firewall bouncer, openssl, ulogd,
// systemd-nspawn and mmdebstrap (see .ci/run). They need the machine
// alone.
//
//	cd test/fleet && go test -count=1
package fleet
