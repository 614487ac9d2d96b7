package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/ingest"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonrecords"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// lineFormat is a small test format: "use JTI" and "pair JTI" (two events
// from one record) are events, "noise" is skipped, "bad" is rejected, and
// "nokind JTI" yields an event that fails validation.
var lineFormat = source.Format{
	Name:   "lines",
	Detect: func([]byte) bool { return false },
	Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
		lr := source.NewLineReader(in, 0)
		t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		for {
			line, n, err := lr.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			verb, jti, _ := strings.Cut(string(line), " ")
			e := audit.Event{
				ID: audit.NewID("lines", string(line)), Time: t0.Add(time.Duration(n) * time.Second),
				Kind: audit.KindUsed, TokenID: jti, Source: source.Location(in.Name, n),
			}
			switch verb {
			case "use":
				err = h.Event(e)
			case "pair":
				if err = h.Event(e); err == nil {
					e.ID += "-2"
					err = h.Event(e)
				}
			case "nokind":
				e.Kind = 0
				err = h.Event(e)
			case "noise":
				h.Skip(n, "server noise")
			default:
				h.Reject(&source.RecordError{File: in.Name, Line: n, Reason: "unknown verb " + verb})
			}
			if err != nil {
				return err
			}
		}
	},
}

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

const input = "use a\npair b\nnoise\nbad\nnokind c\nuse d\nnoise\n"

func TestFileCounts(t *testing.T) {
	db := openStore(t)
	var printed []string
	opts := ingest.Options{BatchSize: 2, OnReject: func(err *source.RecordError) { printed = append(printed, err.Error()) }}

	sum, err := ingest.File(context.Background(), db, lineFormat, source.Input{Reader: strings.NewReader(input), Name: "x.log"}, opts)
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	want := ingest.Summary{Read: 7, Events: 4, Imported: 4, Skipped: 2, Rejected: 2}
	if sum.Read != want.Read || sum.Events != want.Events || sum.Imported != want.Imported ||
		sum.Skipped != want.Skipped || sum.Rejected != want.Rejected || sum.Duplicates != 0 {
		t.Errorf("File summary = %+v, want %+v", sum, want)
	}
	if sum.SkipReasons["server noise"] != 2 {
		t.Errorf("SkipReasons = %v, want server noise: 2", sum.SkipReasons)
	}
	if len(printed) != 2 || printed[0] != "x.log:4: unknown verb bad" || !strings.HasPrefix(printed[1], "x.log:5: field Kind is missing") {
		t.Errorf("rejections = %q", printed)
	}
	if n, _ := db.Count(context.Background()); n != 4 {
		t.Errorf("stored events = %d, want 4", n)
	}
}

func TestFileTwiceAddsNothing(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	if _, err := ingest.File(ctx, db, lineFormat, source.Input{Reader: strings.NewReader(input), Name: "x.log"}, ingest.Options{}); err != nil {
		t.Fatalf("first import: %v", err)
	}

	sum, err := ingest.File(ctx, db, lineFormat, source.Input{Reader: strings.NewReader(input), Name: "x.log"}, ingest.Options{})
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	if sum.Imported != 0 || sum.Duplicates != 4 {
		t.Errorf("second import imported %d, duplicates %d, want 0, 4", sum.Imported, sum.Duplicates)
	}
}

// failingAppender fails from its second call on.
type failingAppender struct {
	db    ingest.Appender
	calls int
}

var errDiskFull = errors.New("disk full")

func (f *failingAppender) Append(ctx context.Context, events []audit.Event) (s store.Appended, err error) {
	f.calls++
	if f.calls > 1 {
		return s, errDiskFull
	}
	return f.db.Append(ctx, events)
}

func TestFileKeepsWrittenBatches(t *testing.T) {
	db := openStore(t)
	app := &failingAppender{db: db}

	sum, err := ingest.File(context.Background(), app, lineFormat,
		source.Input{Reader: strings.NewReader("use a\nuse b\nuse c\nuse d\n"), Name: "x.log"}, ingest.Options{BatchSize: 2})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("File error = %v, want disk full", err)
	}
	if !strings.Contains(err.Error(), "x.log") {
		t.Errorf("File error %q does not name the file", err)
	}
	if sum.Imported != 2 {
		t.Errorf("Imported = %d, want the first batch of 2", sum.Imported)
	}
	if n, _ := db.Count(context.Background()); n != 2 {
		t.Errorf("stored events = %d, want 2", n)
	}
}

// strictAppender rejects, as a store with a stricter rule would, any batch
// holding an event of token "strict".
type strictAppender struct{ db ingest.Appender }

func (s strictAppender) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	for _, e := range events {
		if e.TokenID == "strict" {
			return store.Appended{}, fmt.Errorf("event %s: %w", e.ID, audit.ErrInvalidValue)
		}
	}
	return s.db.Append(ctx, events)
}

func TestFileStoreRejectsOneEvent(t *testing.T) {
	db := openStore(t)

	sum, err := ingest.File(context.Background(), strictAppender{db}, lineFormat,
		source.Input{Reader: strings.NewReader("use a\nuse strict\nuse c\n"), Name: "x.log"}, ingest.Options{})
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	if sum.Imported != 2 || sum.Rejected != 1 || sum.Events != 2 {
		t.Errorf("summary = %+v, want 2 imported and the line 2 rejected", sum)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Line != 2 {
		t.Errorf("errors = %v, want one at line 2", sum.Errors)
	}
}

func TestSummarySkipReasonsBounded(t *testing.T) {
	var lines strings.Builder
	for i := range ingest.MaxSkipReasons + 10 {
		fmt.Fprintf(&lines, "noise-%d x\n", i)
	}
	format := lineFormat
	format.Parse = func(ctx context.Context, in source.Input, h source.Handler) error {
		lr := source.NewLineReader(in, 0)
		for {
			line, n, err := lr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			h.Skip(n, "record "+string(line)+" is noise")
		}
	}

	sum, err := ingest.File(context.Background(), openStore(t), format, source.Input{Reader: strings.NewReader(lines.String()), Name: "n.log"}, ingest.Options{})
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	if len(sum.SkipReasons) != ingest.MaxSkipReasons+1 {
		t.Errorf("len(SkipReasons) = %d, want %d", len(sum.SkipReasons), ingest.MaxSkipReasons+1)
	}
	if sum.SkipReasons[ingest.OtherSkipReasons] != 10 {
		t.Errorf("SkipReasons[other] = %d, want 10", sum.SkipReasons[ingest.OtherSkipReasons])
	}
}

// TestFileCountsRecordsOnOneLine reads a JSON array written on one line with
// a format built on jsonrecords, which reports to the handler where each
// record starts. Every record counts, although all share line 1.
func TestFileCountsRecordsOnOneLine(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	arrayFormat := source.Format{
		Name:   "array",
		Detect: func([]byte) bool { return false },
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			n := 0
			return jsonrecords.Read(ctx, in, h, func(line int, raw []byte) error {
				n++
				if strings.Contains(string(raw), "noise") {
					h.Skip(line, "noise")
					return nil
				}
				return h.Event(audit.Event{
					ID: audit.NewID("array", strconv.Itoa(n)), Time: t0, Kind: audit.KindUsed,
					TokenID: "t" + strconv.Itoa(n), Source: source.Location(in.Name, line),
				})
			})
		},
	}
	db := openStore(t)
	in := source.Input{Reader: strings.NewReader(`[{"a":1},{"a":2},{"noise":3},7,{"a":4}]`), Name: "one-line.json"}

	sum, err := ingest.File(context.Background(), db, arrayFormat, in, ingest.Options{})
	if err != nil {
		t.Fatalf("File: %v", err)
	}

	if sum.Read != 5 || sum.Events != 3 || sum.Skipped != 1 || sum.Rejected != 1 {
		t.Errorf("File summary = read %d, events %d, skipped %d, rejected %d; want 5, 3, 1, 1",
			sum.Read, sum.Events, sum.Skipped, sum.Rejected)
	}
}

func TestFilePassesValidEventsOn(t *testing.T) {
	db := openStore(t)
	var seen []string
	opts := ingest.Options{OnEvent: func(e audit.Event) { seen = append(seen, e.TokenID) }}

	if _, err := ingest.File(context.Background(), db, lineFormat, source.Input{Reader: strings.NewReader(input), Name: "x.log"}, opts); err != nil {
		t.Fatalf("File: %v", err)
	}

	// The rejected "nokind c" line is not passed on.
	if want := []string{"a", "b", "b", "d"}; !slices.Equal(seen, want) {
		t.Errorf("OnEvent saw tokens %v, want %v", seen, want)
	}
}
