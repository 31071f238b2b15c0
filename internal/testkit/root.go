package testkit

import (
	"errors"
	"os"
	"path/filepath"
)

// ModuleRoot returns the directory of iblock's go.mod: the source that
// Build builds and where the example files, the Makefile and iblock.8
// are. The tests of every package run in their own directory below it.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SourcePath returns the path of a file of the source tree, such as
// "examples/pf.conf" or "iblock.8", from any test package.
func SourcePath(name string) string {
	root, err := ModuleRoot()
	if err != nil {
		panic(err)
	}
	return filepath.Join(root, name)
}
