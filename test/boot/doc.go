// Package boot tests the Linux install in a booted Debian system:
// systemd as PID 1 under systemd-nspawn, in a network namespace, with
// the package that make deb builds installed with apt-get and the trap
// switched on by the lines of doc/linux.md (or make install and its
// lines), and the ipset setup with iblock-iptables.service; reloads and
// restarts of the firewall's unit, reboots, power cuts, a burst, an
// upgrade of the package, its removal and its purge. The package itself
// is held to lintian, to make install and to doc/linux.md.
//
// The tests need root, systemd-nspawn, mmdebstrap (which builds the root
// file system once, into /var/cache/iblock-test), dpkg-deb and lintian;
// they leave nothing behind on the host. They need the machine alone.
//
//	cd test/boot && go test -count=1
package boot
