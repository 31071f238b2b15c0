package main

// pf, the packet filter of OpenBSD and FreeBSD, through pfctl: the C
// original's backend, whose commands iblock keeps.
//
// What pfctl's answers mean: "pfctl -t T -T add A" creates a missing
// table, prints "N/M addresses added." and exits 0 both when it added A
// and when A was in the table already (0/1). Any other exit status of
// either command, such as 255 for a table pfctl cannot make, is a
// failure. Nothing it prints needs reading.
var pf = &backend{
	name:     "pf",
	program:  "/sbin/pfctl",
	tableLen: maxTableLen,
	ban:      runCommands,
	commands: pfCommands,
}

// pfCommands adds target to the table and then, unless -K, kills the
// states from it, in a second call: in one pfctl call -k runs before -T,
// and would act before the ban exists.
func pfCommands(conf *config, table, target string) [][]string {
	add := []string{conf.program, "-t", table, "-T", "add", target}
	if conf.keepStates {
		return [][]string{add}
	}
	return [][]string{add, {conf.program, "-k", target}}
}
