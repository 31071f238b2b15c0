package testkit

// A booted system's journal, read with journalctl inside it.

import (
	"encoding/json"
	"strings"
)

// Journal returns the container's journal entries that match the given
// journalctl arguments, each as its fields. (journalctl --grep would exit
// 1 when nothing matches: callers filter the messages themselves.)
func (c *Container) Journal(args ...string) []map[string]string {
	c.T.Helper()
	out := c.MustRun(append([]string{"journalctl", "--no-pager", "-o", "json"}, args...)...)
	var entries []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			c.T.Fatalf("journalctl -o json: %v: %s", err, line)
		}
		e := map[string]string{}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				e[k] = s
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// JournalMessages returns the messages alone of the container's journal
// entries that match the given journalctl arguments: far less to read
// than Journal's JSON when the test polls.
func (c *Container) JournalMessages(args ...string) []string {
	c.T.Helper()
	out := c.MustRun(append([]string{"journalctl", "--no-pager", "-q", "-o", "cat"}, args...)...)
	var msgs []string
	for _, line := range strings.Split(out, "\n") {
		if line != "" {
			msgs = append(msgs, line)
		}
	}
	return msgs
}
