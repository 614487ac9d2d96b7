// Package shareddata finds the folder of real third-party sample logs that
// sits beside a development checkout (../shared/data from the module root).
// Some of those files carry no licence that allows copying them into this
// repository, so tests read them in place and skip where the folder is absent,
// as it is in a user's clone.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the sample-log folder, or skips tb when it does not exist.
func Dir(tb testing.TB) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Skipf("sample logs not found: %v", err)
	}
	dir := filepath.Join(root, "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("sample logs not found at %s (they sit beside a development checkout only): %v", dir, err)
	}
	return dir
}

// File returns the path of one sample log, or skips tb when it is absent.
func File(tb testing.TB, name string) string {
	tb.Helper()
	path := filepath.Join(Dir(tb), name)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("sample log %s not found: %v", name, err)
	}
	return path
}

func moduleRoot() (string, error) {
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
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
