package testkit

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// ReadAll reads until the connection closes or its deadline passes; the
// deadline is an error, a close is not.
func ReadAll(c net.Conn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 512)
	for {
		k, err := c.Read(buf)
		got = append(got, buf[:k]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return got, err
		}
		if err != nil {
			return got, nil
		}
	}
}

// First returns the first k of s, or all of s when it holds fewer: what
// a failure message shows of a long list.
func First(s []string, k int) []string { return s[:min(k, len(s))] }

// WriteTemp writes text to a file of that name in a new directory of the
// test's, and returns its path.
func WriteTemp(t testing.TB, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
