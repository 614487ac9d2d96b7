package recorder_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
)

// countingWriter takes the place of a store such as *sqlite.Store in this
// example.
type countingWriter struct{ events int }

func (w *countingWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	w.events += len(events)
	return store.Appended{Inserted: len(events)}, nil
}

func Example() {
	w := &countingWriter{}
	rec := recorder.New(w, recorder.Options{})

	// In a request handler, after the token was verified: only the jti and
	// the request context, never the token itself.
	rec.RecordUsed(audit.Event{
		TokenID: "4f1c2a9e-7b3d-4e8a-9c1f-2d5e6a7b8c9d",
		Subject: "user-42",
		IP:      netip.MustParseAddr("203.0.113.7"),
		Method:  "GET",
		Path:    "/api/orders",
		Status:  200,
	})

	// At shutdown, Close writes what is still queued.
	if err := rec.Close(context.Background()); err != nil {
		fmt.Println("close:", err)
	}
	s := rec.Stats()
	fmt.Printf("written %d, dropped %d, lost %d, writer saw %d\n", s.Written, s.Dropped, s.Lost, w.events)
	// Output: written 1, dropped 0, lost 0, writer saw 1
}
