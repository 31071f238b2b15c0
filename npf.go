package main

// npf, NetBSD's packet filter, through npfctl. The table must be declared
// in npf.conf. npfctl refuses to add an address that is in the table
// already: it exits 1 with "entry already exists", which for iblock is
// the ban it wanted.
var npf = &backend{
	name:      "npf",
	program:   "/sbin/npfctl",
	tableLen:  maxTableLen,
	ban:       runCommands,
	commands:  npfCommands,
	alreadyIn: "entry already exists",
}

func npfCommands(conf *config, table, target string) [][]string {
	return [][]string{{conf.program, "table", table, "add", target}}
}
