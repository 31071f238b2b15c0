package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is a running process as /proc shows it.
type Process struct {
	Pid, Parent int
	Exe         string // the path of its executable
}

// Processes returns the pids of the running processes that match says
// are wanted. The one reader of /proc of the tests.
func Processes(match func(Process) bool) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		p := Process{Pid: pid}
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
		p.Parent, _ = strconv.Atoi(fields[1])
		if p.Exe, err = os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err != nil {
			continue
		}
		if match(p) {
			pids = append(pids, pid)
		}
	}
	return pids
}
