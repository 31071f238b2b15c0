// Package testkit is what iblock's test packages share: the root package
// (unit and loopback tests) and the system tests of test/netns, test/boot,
// test/fleet and test/examples. The tests drive iblock through its
// contract only: its arguments, exit status, log lines and the commands
// it runs, as the fakes record them.
//
// A test package starts with
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
//
// which builds iblock once (Iblock(t), logging to the test syslogd Log(t)),
// runs the tests from the module's root directory, and lets the test
// binary, started again under another name, act as a fake or as the
// scanner side of a burst.
//
// Building and running iblock (harness.go, syslogd.go, fakes.go):
//   - Main, Run, Build, IblockWithOtherLog, ModuleRoot, SourcePath, CopySource.
//   - RunInetd runs iblock with a loopback connection as fds 0, 1 and 2, as
//     inetd does, from a Scanner (Loopback4, Loopback6, LoopbackMapped);
//     RunWithStdio, RunIblock and AcceptAndRun are its parts. The
//     Connection it returns has WantExit, WantLog and WantArgv.
//   - NewFakeDir: doas, pfctl, npfctl, nft, ipset and go as the test binary
//     under their names (RunFakeIfNamed), recording each call (Calls,
//     ReadCalls: argv, environment, stdio, directory) and misbehaving on
//     demand (SetMode: "hang", "flood", "orphan", "add-fails",
//     "show-fails", "doas-deny", "overlap", "set-missing", "vet-fails").
//     Under the name Forge it sends raw datagrams to a syslog socket, as
//     any local user can (forge.go).
//   - Syslogd (ListenSyslog): a syslogd on a unix datagram socket that
//     files iblock's lines by pid: Mark, LinesOf, Lines, Sync, Count,
//     Matching.
//
// A stand-in for blocklistd (blocklistd_linux.go): ListenBlocklistd
// binds a socket that decodes each report as libblocklist's bl_recv does
// (Receive, a BlocklistdReport; WantNone), and fills its queue on demand
// (Fill, Drain).
//
// Gates and waiting (gates.go, wait.go): NeedRoot, NeedTool, Slow, and
// SkipOrFail, which fails instead of skipping under IBLOCK_E2E=1;
// WaitUntil and Eventually poll a condition, SamplePeak samples a count.
//
// Linux, in network namespaces (netns_linux.go, setups_linux.go,
// room_linux.go, sets_linux.go, kmsg_linux.go, forge_linux.go,
// tcpstate_linux.go, burst*.go):
//   - NewNet: a server and a scanner namespace on one veth, with the
//     documentation addresses Server4/6, Scanner4/6, Bystander4/6,
//     Neighbour6, Allowlisted4/6, Victim4/6 and Families. A Net runs
//     commands in the server (Run, MustRun, Start, RunInput), listens
//     there (Serve, ListenAndClose; ListenIn in any namespace), connects
//     from the scanner (TouchTrap, Handshake, ConnectThenClose,
//     ReachesService, WantReach, OpenSession; DialFrom any namespace,
//     DialAs as a local account from a source port of its choice), and
//     loads the shipped setups: LoadNftExample, LoadNftEdited,
//     LoadIpsetExample, LoadKernelNft, LoadKernelIpset, or any of them
//     edited (LoadNft, LoadIpset), StartInetd, StartSocketActivate,
//     WantScannerBannedAlone. A Net's Room raises the sizes of the sets
//     it loads. NewNamespace and IPBatch build other topologies.
//   - Sets: one reader, ScanSets, which streams any listing of nft or
//     ipset; NftSet, IpsetSet, Elements, NftAddresses, NftHas, NftElement,
//     NftSets and IpsetSets are built on it; TimeLeft, NftExpiry and
//     IpsetTimeout read an element's time left; one filler, FillNft and
//     FillIpset. IblockSet is the set iblock adds a peer to, as
//     testdata/contract.txt (ReadContract) says; SetName names the
//     shipped rulesets' sets of each family. SetState (SecondsLeft) is
//     what saving and restoring the sets must keep, and Saved the part
//     iblock-sets saves.
//   - FollowKmsg reads the kernel log (KmsgSrc, Net.KmsgMAC), with the
//     host-wide sysctl nf_log_all_netns set while any test needs it, or
//     skips.
//   - Forging: a Segment (SYN, Packet) or a Datagram is sent from the
//     scanner namespace with any source address (SendSYNs, SendSegments,
//     SendEach, SendPackets); Probe is the first packet of each kind of
//     scan in ProbeKinds (SYN, FIN, NULL, Xmas, Maimon, ACK, window, UDP);
//     ForgeHandshake guesses the server's sequence number blind in the
//     name of a ForgedVictim (RouteForgedVictims). What the server's TCP
//     stack holds and counts: Listeners, HalfOpen, SyncookiesSent,
//     Received.
//   - Burst sends BurstSize scanners and Summarize sums them up.
//
// Booted systems (container_linux.go, install_linux.go,
// journal_linux.go): Boot boots systemd under systemd-nspawn, with more
// nspawn options if asked, in a Net's server namespace on OverlayRoot, a
// copy of a cached Debian root file system (PlainImage), or OverlayOf, a
// copy of another Image (packages and mmdebstrap hooks); a Container runs
// commands inside (Run, MustRun, Command), reads its journal (Journal,
// JournalMessages), powers off or loses power, and when its test ends
// leaves nothing behind on the host (Footprint); what the containers of
// test processes that were killed left is removed before the next boot.
// BuildDeb builds the Debian package (make deb), AptInstall installs it
// in a booted system; MakeInstall runs make install into a root, and
// InstallLinuxFiles adds offline what doc/linux.md's lines do after it.
// Nspawn runs a command in a system without booting it, and Overlay
// copies any directory for a test.
//
// Example files (examples.go): ReadExample, ExampleLines,
// ExampleWithPaths, UnitSettings.
package testkit
