package enrich

import (
	"bytes"
	"fmt"
	"os"
)

// readFile reads the regular file at path whole and returns its contents with
// the file's information taken after the read. A writer that changes the file
// after that moment changes its size, modification time or identity, so the
// next poll detects the change and loads the file again.
func readFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w (mode %s)", ErrNotRegularFile, info.Mode().Type())
	}

	var buf bytes.Buffer
	buf.Grow(int(info.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, nil, err
	}

	info, err = f.Stat()
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), info, nil
}

// sameFile reports whether a and b describe the same file at the same size
// and modification time: if so, its contents are taken to be unchanged.
// NOTE: a writer that rewrites a file in place with the same size within the
// file system's time resolution goes unseen until the next change.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
