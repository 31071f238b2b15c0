// Package testkit is what iblock's test packages share: the root package
// (unit and loopback tests) and the system tests of test/netns, test/boot,
// test/fleet and test/examples. The tests drive iblock through its
// contract only (testdata/contract.txt, ReadContract): its arguments,
// exit status, log lines and the commands it runs, as the fakes record
// them.
//
// A test package starts with
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
//
// which builds iblock once per test binary (Iblock(t), logging to the
// test syslogd Log(t)), runs the tests from the module's root directory,
// and lets the test binary, started again under another name, act as a
// fake or as the scanner side of a burst.
//
// The entry points by area; each file's comments say the rest.
//   - iblock under inetd (harness.go): RunInetd, from a Scanner such as
//     Loopback4, returns a Connection to check with WantExit, WantLog and
//     WantArgv; RunWithStdio and RunIblock give other fds 0, 1 and 2.
//   - Fakes (fakes.go): NewFakeDir makes doas, pfctl, npfctl, nft, ipset
//     and go of the test binary; they record their calls and misbehave
//     on demand (SetMode).
//   - Logs: Syslogd (syslogd.go); a blocklistd, ListenBlocklistd.
//   - Gates and waiting (gates.go, wait.go): NeedRoot, NeedTool, Slow and
//     SkipOrFail skip, or fail under IBLOCK_E2E=1; WaitUntil, Eventually.
//   - Example files (examples.go): ReadExample, ExampleLines, UnitSettings.
//   - Network namespaces (Linux): NewNet makes a server and a scanner
//     namespace with documentation addresses (netns_linux.go). A Net
//     loads the shipped setups (setups_linux.go), reads the sets
//     (sets_linux.go), the kernel log (FollowKmsg) and the TCP stack
//     (tcpstate_linux.go), forges packets (forge_linux.go) and sends
//     bursts of scanners (Burst).
//   - Booted systems (Linux): Boot runs systemd in a Net's server
//     namespace on a copy of a cached Debian root (PlainImage, OverlayOf;
//     container_linux.go); BuildDeb, AptInstall and MakeInstall install
//     iblock there (install_linux.go).
package testkit
