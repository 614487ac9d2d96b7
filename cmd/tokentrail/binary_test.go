package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runGuarded runs the CLI like run, with stdin as a reader, and fails the test
// instead of hanging it when the command does not return within a minute.
// The context is cancelled then, which stops an importer between records.
func runGuarded(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(stdin, &out, &errOut)
	cmd.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	select {
	case err = <-done:
		return out.String(), errOut.String(), err
	case <-time.After(time.Minute):
		cancel()
		t.Fatalf("tokentrail %s did not return within a minute", strings.Join(args, " "))
		return "", "", nil
	}
}

// pseudoRandom returns n bytes of a fixed linear congruential sequence, so
// that failures repeat.
func pseudoRandom(n int) []byte {
	data := make([]byte, n)
	x := uint32(12345)
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	return data
}

func gzipped(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportRejectsBinaryFiles(t *testing.T) {
	dir := t.TempDir()
	k8s := "../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl"

	// A real SQLite database: the store of an earlier import.
	database := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", database, "import", "--no-detect", k8s); err != nil {
		t.Fatalf("import into %s: %v", database, err)
	}
	sqliteFile, err := os.ReadFile(database)
	if err != nil {
		t.Fatal(err)
	}
	garbage := pseudoRandom(1 << 20)
	firstNUL := bytes.IndexByte(garbage, 0)

	tests := []struct {
		name    string
		content []byte
		want    string // part of the error after the file name
	}{
		{"nul bytes", make([]byte, 100_000), "NUL byte at offset 0, so nothing was imported from it; give a Keycloak"},
		{"garbage", garbage, "NUL byte at offset " + strconv.Itoa(firstNUL) + ", so nothing"},
		{"gzip of garbage", gzipped(t, garbage), "NUL byte at offset " + strconv.Itoa(firstNUL) + " of the decompressed data"},
		{"sqlite", sqliteFile, "NUL byte at offset 15, so nothing was imported from it; it is an SQLite database"},
		{"gzip of sqlite", gzipped(t, sqliteFile), "it is an SQLite database"},
		{"gzip of gzip", gzipped(t, gzipped(t, garbage)), "it is gzip data inside gzip data, so gunzip it once"},
		{"utf-16", []byte("\xff\xfe{\x00}\x00\n\x00"), "it is UTF-16 text, so convert it to UTF-8 first"},
		{"tar", tarred(t, "okta.jsonl", []byte(`{"uuid":"x"}`+"\n")), "it is a tar archive, so extract it"},
		{"gzip of tar", gzipped(t, tarred(t, "okta.jsonl", []byte(`{"uuid":"x"}`+"\n"))), "of the decompressed data, so nothing was imported from it; it is a tar archive"},
	}
	for _, tt := range tests {
		path := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-"), string(tt.content))
		for _, format := range []string{"", "keycloak", "okta", "k8saudit"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				args := []string{"--db", filepath.Join(dir, "other.db"), "import"}
				if format != "" {
					args = append(args, "--format", format)
				}
				stdout, stderr, err := runGuarded(t, strings.NewReader(""), append(args, path)...)
				if !errors.Is(err, errRejected) {
					t.Errorf("import error = %v, want errRejected", err)
				}
				if want := path + ": not a text log: NUL byte at offset "; !strings.Contains(stderr, want) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, want)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
				}
				if strings.Contains(stdout, path+" (") {
					t.Errorf("stdout = %q, want no summary, since nothing was read", stdout)
				}
			})
		}
	}
}

func TestImportRejectsDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero on this system")
	}
	for _, format := range []string{"", "keycloak", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"--db", filepath.Join(t.TempDir(), "events.db"), "import"}
			switch format {
			case "":
			case "jsonl":
				args = append(args, "--format", "jsonl", "--map", "jti=jti,time=ts")
			default:
				args = append(args, "--format", format)
			}
			_, stderr, err := runGuarded(t, strings.NewReader(""), append(args, "/dev/zero")...)
			if !errors.Is(err, errRejected) {
				t.Errorf("import error = %v, want errRejected", err)
			}
			if want := "/dev/zero: not a text log: NUL byte at offset 0"; !strings.Contains(stderr, want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, want)
			}
		})
	}
}

// endlessLine returns "y" bytes with no line end. It fails once it has
// returned more than 1 GiB, far past what import may read of one line.
type endlessLine struct{ read int64 }

func (r *endlessLine) Read(p []byte) (int, error) {
	if r.read > 1<<30 {
		return 0, errors.New("read past 1 GiB of one endless line")
	}
	for i := range p {
		p[i] = 'y'
	}
	r.read += int64(len(p))
	return len(p), nil
}

func TestImportStopsAtEndlessLine(t *testing.T) {
	src, err := os.ReadFile("../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(src, []byte("\n"))
	stdin := io.MultiReader(bytes.NewReader(src), &endlessLine{})

	stdout, stderr, err := runGuarded(t, stdin, "--db", filepath.Join(t.TempDir(), "events.db"), "import", "--format", "k8saudit", "-")
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected", err)
	}
	want := "stdin:" + strconv.Itoa(lines+1) + ": line too long: no line end in its first "
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "so the rest of the input is not read") {
		t.Errorf("stderr = %q, want it to contain %q and say the rest is not read", stderr, want)
	}
	if got := summaryLine(t, stdout, "stdin"); !strings.Contains(got, "imported 4,") || !strings.Contains(got, "rejected 1") {
		t.Errorf("summary = %q, want the 4 events before the endless line imported and the line rejected", got)
	}
}

func TestImportKeepsRecordsAroundBadLines(t *testing.T) {
	// A line over the limit and a run of NUL bytes inside a text file, as a
	// crash can leave, cost only their own lines.
	src, err := os.ReadFile("../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	records := strings.SplitAfter(strings.TrimSuffix(string(src), "\n"), "\n")
	half := len(records) / 2
	// The padding before the NUL bytes keeps them out of the first 64 KiB,
	// which import checks for binary data.
	padding := strings.Repeat(" ", 70<<10) + "\n"
	content := strings.Join(records[:half], "") + padding +
		strings.Repeat("z", 5<<20) + "\n" +
		strings.Repeat("\x00", 4096) + "\n" +
		strings.Join(records[half:], "") + "\n"
	dir := t.TempDir()
	path := writeFile(t, dir, "audit.log", content)

	stdout, stderr, err := runGuarded(t, strings.NewReader(""), "--db", filepath.Join(dir, "events.db"), "import", "--format", "k8saudit", path)
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected", err)
	}
	for _, want := range []string{path + ":" + strconv.Itoa(half+2) + ": line too long", path + ":" + strconv.Itoa(half+3) + ": "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, want)
		}
	}
	if got := summaryLine(t, stdout, path); !strings.Contains(got, "imported 4,") || !strings.Contains(got, "rejected 2") {
		t.Errorf("summary = %q, want the 4 events around the bad lines imported and the 2 bad lines rejected", got)
	}
}

// tarred returns a tar archive holding one file.
func tarred(t *testing.T, name string, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	if err := w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
