package testkit

import (
	"os"
	"strconv"
	"strings"
)

// systemdDatagramQueue is the queue length of a unix datagram socket on a
// host that boots with systemd, whose sysctl.d/50-default.conf raises
// net.unix.max_dgram_qlen from the kernel's 10 to 512. iblock gives a
// log line 40 ms to find room in the syslog socket's queue; with 10 places,
// a burst of iblocks on a busy machine loses lines that any real syslogd
// host would have queued.
const systemdDatagramQueue = 512

const dgramQueueSysctl = "/proc/sys/net/unix/max_dgram_qlen"

// withDatagramQueue runs create, which makes a unix datagram socket, with
// the queue length at least n. A socket takes the length when it is made,
// so the machine's setting is put back as soon as create returns. Without
// root, or off Linux, create runs with the machine's setting.
func withDatagramQueue(n int, create func() error) error {
	old, err := os.ReadFile(dgramQueueSysctl)
	if err != nil {
		return create()
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(old)))
	if err != nil || cur >= n || os.WriteFile(dgramQueueSysctl, []byte(strconv.Itoa(n)), 0) != nil {
		return create()
	}
	defer os.WriteFile(dgramQueueSysctl, old, 0)
	return create()
}
