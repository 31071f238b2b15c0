package testkit

import (
	"os"
	"strings"
	"testing"
)

// ReadExample returns the text of an example file, named below examples/
// (e.g. "linux/inetd.conf").
func ReadExample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(SourcePath("examples/" + name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// ExampleLines returns the lines of an example file that are not blank
// or comments, with their white space trimmed.
func ExampleLines(t testing.TB, name string) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(ReadExample(t, name), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// ExampleWithPaths returns an example file's text with the installed
// path of iblock replaced by the one the tests built.
func ExampleWithPaths(t testing.TB, name string) string {
	t.Helper()
	return strings.ReplaceAll(ReadExample(t, name), "/usr/local/bin/iblock", Iblock(t))
}

// UnitSettings reads the Key=Value lines of an example unit.
func UnitSettings(t *testing.T, name string) map[string]string {
	t.Helper()
	settings := map[string]string{}
	for _, line := range ExampleLines(t, name) {
		if k, v, ok := strings.Cut(line, "="); ok {
			settings[k] = v
		}
	}
	return settings
}
