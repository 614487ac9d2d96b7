package httpmw_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
)

// TestFlushReachesClient streams two chunks and checks that the client
// reads the first while the handler still waits, which only a working
// Flush allows.
func TestFlushReachesClient(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	firstRead := make(chan struct{})
	handlerErr := make(chan error, 1)
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			handlerErr <- errors.New("ResponseWriter is not an http.Flusher")
			return
		}
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-time.After(10 * time.Second):
			handlerErr <- errors.New("client never read the flushed chunk")
			return
		}
		_, _ = io.WriteString(w, "second\n")
		handlerErr <- nil
	})))

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, signingKey, tokenClaims("jti-stream", "alice")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	line, err := body.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v, want \"first\\n\"", line, err)
	}
	close(firstRead)
	if line, _ := body.ReadString('\n'); line != "second\n" {
		t.Errorf("second line = %q, want \"second\\n\"", line)
	}
	if err := <-handlerErr; err != nil {
		t.Fatal(err)
	}
	if e := tr.eventually(t, store.Query{TokenID: "jti-stream"}); e.Status != http.StatusOK {
		t.Errorf("event Status = %d, want 200 from the flush", e.Status)
	}
}

func TestHijackPassesThrough(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = rw.Flush()
	})))

	resp, body := request(t, srv.URL+"/ws", sign(t, signingKey, tokenClaims("jti-hijack", "alice")))

	if resp.StatusCode != http.StatusOK || body != "hijacked" {
		t.Fatalf("GET /ws = %d %q, want 200 \"hijacked\"", resp.StatusCode, body)
	}
	if e := tr.eventually(t, store.Query{TokenID: "jti-hijack"}); e.Kind != audit.KindUsed || e.Status != 0 {
		t.Errorf("event = %v status %d, want used with no status (the handler wrote it on the raw connection)", e.Kind, e.Status)
	}
}

func TestReaderFromAndDeadlines(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Deadlines are reached through Unwrap.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, "SetWriteDeadline: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if _, ok := w.(io.ReaderFrom); !ok {
			http.Error(w, "ResponseWriter is not an io.ReaderFrom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.Copy(w, strings.NewReader("copied"))
	})))

	resp, body := request(t, srv.URL+"/copy", sign(t, signingKey, tokenClaims("jti-copy", "alice")))

	if resp.StatusCode != http.StatusCreated || body != "copied" {
		t.Fatalf("GET /copy = %d %q, want 201 \"copied\"", resp.StatusCode, body)
	}
	if e := tr.one(t, store.Query{TokenID: "jti-copy"}); e.Status != http.StatusCreated {
		t.Errorf("event Status = %d, want 201", e.Status)
	}
}

func TestEarlyHintsIsNotTheStatus(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusUnauthorized)
	})))

	resp, _ := request(t, srv.URL+"/hints", sign(t, signingKey, tokenClaims("jti-hints", "alice")))

	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
	if e := tr.one(t, store.Query{TokenID: "jti-hints"}); e.Kind != audit.KindRejected || e.Status != 401 {
		t.Errorf("event = %v %d, want rejected 401", e.Kind, e.Status)
	}
}

func TestSetRejectReasonThroughWrapper(t *testing.T) {
	if httpmw.SetRejectReason(&wrapped{}, audit.RejectExpired) {
		t.Error("SetRejectReason(writer without the middleware) = true, want false")
	}
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outer := &wrapped{ResponseWriter: w}
		if !httpmw.SetRejectReason(outer, audit.RejectUnknownKey) {
			http.Error(w, "middleware not found", http.StatusInternalServerError)
			return
		}
		http.Error(outer, "unauthorized", http.StatusUnauthorized)
	})))

	request(t, srv.URL+"/", sign(t, signingKey, tokenClaims("jti-wrapped", "alice")))

	if e := tr.one(t, store.Query{TokenID: "jti-wrapped"}); e.RejectReason != audit.RejectUnknownKey {
		t.Errorf("event RejectReason = %q, want unknown_key", e.RejectReason)
	}
}

// wrapped is another middleware's ResponseWriter.
type wrapped struct{ http.ResponseWriter }

func (w *wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }
