package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// process is a running process as /proc shows it.
type process struct {
	pid, parent int
	exe         string // the path of its executable
}

// processes returns the running processes whose executable's path exe
// says are wanted. The one reader of /proc of the tests; it reads little
// (a link for each process, the stat of those wanted), since samplers
// call it every few milliseconds while a burst runs.
func processes(exe func(path string) bool) []process {
	dirs, _ := os.ReadDir("/proc")
	var procs []process
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		path, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe"))
		if err != nil || !exe(path) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces: the fields
		// that follow it are state, then the parent's pid.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		parent, _ := strconv.Atoi(fields[1])
		procs = append(procs, process{pid: pid, parent: parent, exe: path})
	}
	return procs
}
