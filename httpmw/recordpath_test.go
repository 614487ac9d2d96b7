package httpmw_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

// forwardingRecorder is an application's own Recorder that passes each
// event on to a *recorder.Recorder. Its type is not *recorder.Recorder, so
// the middleware records through Record and parses the request context at
// once.
type forwardingRecorder struct{ rec *recorder.Recorder }

func (f forwardingRecorder) Record(e audit.Event) bool { return f.rec.Record(e) }

// captureWriter keeps every event it is given.
type captureWriter struct {
	mu     sync.Mutex
	events []audit.Event
}

func (w *captureWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, events...)
	return store.Appended{Inserted: len(events)}, nil
}

// TestRecordPathsWriteSameEvents checks that a *recorder.Recorder, which
// the middleware fills in place and whose flusher parses the request
// context, writes the same events as a Recorder of another type.
func TestRecordPathsWriteSameEvents(t *testing.T) {
	revoked := &revocation.Set{}
	if err := revoked.Add(revocation.TokenEvent("jti-revoked", "", t0)); err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		name, path, jti, remote string
		header                  []string
	}{
		{"direct client", "/orders/1", "jti-a", "203.0.113.7:51234", []string{"Traceparent", traceparent}},
		{"behind trusted proxy", "/orders/2", "jti-b", "10.1.2.3:443", []string{"X-Forwarded-For", "198.51.100.66, 10.0.0.9"}},
		{"header on two lines", "/orders/3", "jti-c", "10.1.2.3:443", []string{"X-Forwarded-For", "198.51.100.66", "X-Forwarded-For", "10.0.0.9"}},
		{"spoofed header", "/orders/4", "jti-d", "203.0.113.7:51234", []string{"X-Forwarded-For", "198.51.100.66"}},
		{"IPv6 peer and bad traceparent", "/orders/5", "jti-e", "[2001:db8::7]:443", []string{"Traceparent", "00-zz-00-01"}},
		{"unparsable peer", "/orders/6", "jti-f", "pipe", nil},
		{"forbidden", "/admin", "jti-g", "203.0.113.7:51234", nil},
		{"reject reason", "/reject", "jti-h", "203.0.113.7:51234", nil},
		{"revoked", "/orders/7", "jti-revoked", "203.0.113.7:51234", []string{"Traceparent", traceparent}},
	}

	record := func(t *testing.T, custom bool) []audit.Event {
		t.Helper()
		w := &captureWriter{}
		rec := recorder.New(w, recorder.Options{Logger: slog.New(slog.DiscardHandler)})
		var r httpmw.Recorder = rec
		if custom {
			r = forwardingRecorder{rec}
		}
		mw := middleware(t, httpmw.Options{
			Recorder:       r,
			Revocations:    revoked,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			Source:         "orders-api",
			Clock:          func() time.Time { return t0 },
		})
		served := 0
		h := mw(app(&served))
		for _, tt := range requests {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.RemoteAddr = tt.remote
			req.Header.Set("Authorization", "Bearer "+sign(t, signingKey, tokenClaims(tt.jti, "alice")))
			req.Header.Set("User-Agent", "orders-cli/2.1")
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Add(tt.header[i], tt.header[i+1])
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		if err := rec.Close(context.Background()); err != nil {
			t.Fatalf("recorder Close() = %v", err)
		}
		for i := range w.events {
			w.events[i].ID = "" // generated, so different in each recorder
		}
		return w.events
	}
	inPlace := record(t, false)
	custom := record(t, true)

	if len(inPlace) != len(requests) || len(custom) != len(requests) {
		t.Fatalf("events written = %d in place and %d through Record, want %d each", len(inPlace), len(custom), len(requests))
	}
	for i, tt := range requests {
		if !reflect.DeepEqual(inPlace[i], custom[i]) {
			t.Errorf("%s: event written in place =\n%+v\nwant as through Record\n%+v", tt.name, inPlace[i], custom[i])
		}
	}
	if got := inPlace[1].IP.String(); got != "198.51.100.66" {
		t.Errorf("IP behind trusted proxy = %s, want 198.51.100.66", got)
	}
	if got := inPlace[0].TraceID; got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q, want the traceparent's trace id", got)
	}
}
