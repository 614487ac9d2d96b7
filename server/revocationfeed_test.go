package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// feedAt reads the revocation feed after position after with the read key.
func feedAt(t *testing.T, ts *testServer, after int64, header ...string) (int, feedPage, []byte) {
	t.Helper()
	resp, data := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/revocations?after=%d", after), ts.keys.read, nil, header...)
	var page feedPage
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &page); err != nil {
			t.Fatalf("feed after %d: decode %s: %v", after, data, err)
		}
	}
	return resp.StatusCode, page, data
}

// revokeTarget records a token revocation through the API.
func revokeTarget(t *testing.T, ts *testServer, target string) {
	t.Helper()
	body := fmt.Sprintf(`{"scope":"token","target":%q,"reason":"leaked in a CI log"}`, target)
	if resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(body)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke %s = %d %s, want 201", target, resp.StatusCode, data)
	}
}

// TestRevocationFeedPositionPastEnd checks that a feed position past the
// last revocation of the store gets 409 position_past_end, as a follower's
// position does after the store was restored from an older copy, while the
// last position itself gets 200.
func TestRevocationFeedPositionPastEnd(t *testing.T) {
	ts := newTestServer(t, nil)
	restored := newTestServer(t, nil)
	for _, target := range []string{"jti-1", "jti-2", "jti-3"} {
		revokeTarget(t, ts, target)
	}
	revokeTarget(t, restored, "jti-1")

	status, page, data := feedAt(t, ts, 0)
	if status != http.StatusOK || len(page.Revocations) != 3 {
		t.Fatalf("feed after 0 = %d %s, want 200 with 3 revocations", status, data)
	}
	last := page.Next
	if status, page, data := feedAt(t, ts, last); status != http.StatusOK || len(page.Revocations) != 0 || page.Next != last {
		t.Errorf("feed after %d, the last position = %d %s, want 200 with none and next %d", last, status, data, last)
	}

	status, _, data = feedAt(t, ts, last+1)
	if status != http.StatusConflict || errorCode(data) != CodePositionPastEnd {
		t.Fatalf("feed after %d, past the last position %d = %d %s, want 409 position_past_end", last+1, last, status, data)
	}
	for _, want := range []string{fmt.Sprintf("after %d", last+1), fmt.Sprintf("(%d)", last), "after=0"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("409 body = %s, want it to contain %q", data, want)
		}
	}

	// A long poll from a position past the end is not held: it gets the
	// 409 at once.
	etag := strconv.Quote(strconv.FormatInt(last+1, 10))
	resp, data := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/revocations?after=%d&wait=60s", last+1), ts.keys.read, nil, "If-None-Match", etag)
	if resp.StatusCode != http.StatusConflict || errorCode(data) != CodePositionPastEnd {
		t.Errorf("long poll after %d = %d %s, want 409 position_past_end", last+1, resp.StatusCode, data)
	}

	// The restored store holds one revocation, so the follower's position
	// of the newer store is past its end, and a new revocation stored
	// there does not change that.
	revokeTarget(t, restored, "jti-new")
	if status, _, data := feedAt(t, restored, last); status != http.StatusConflict || errorCode(data) != CodePositionPastEnd {
		t.Errorf("feed after %d on the restored store = %d %s, want 409 position_past_end", last, status, data)
	}
	if status, page, data := feedAt(t, restored, 0); status != http.StatusOK || len(page.Revocations) != 2 {
		t.Errorf("feed after 0 on the restored store = %d %s, want 200 with 2 revocations", status, data)
	}
}

// TestRevocationFeedDuringRevokes checks that a follower that reads the
// feed while revocations are stored never gets 409 for a position that
// the feed returned.
func TestRevocationFeedDuringRevokes(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.RateBurst = 100000 })
	const revocations = 30

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range revocations {
			revokeTarget(t, ts, fmt.Sprintf("jti-%d", i))
		}
	}()
	defer wg.Wait()

	seen, after := 0, int64(0)
	for reads := 0; seen < revocations; reads++ {
		if reads > 100*revocations {
			t.Fatalf("follower saw %d of %d revocations in %d reads", seen, revocations, reads)
		}
		etag := strconv.Quote(strconv.FormatInt(after, 10))
		resp, data := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/revocations?after=%d&wait=5s", after), ts.keys.read, nil, "If-None-Match", etag)
		switch resp.StatusCode {
		case http.StatusNotModified:
			continue
		case http.StatusOK:
		default:
			t.Fatalf("feed after %d = %d %s, want 200 or 304", after, resp.StatusCode, data)
		}
		var page feedPage
		if err := json.Unmarshal(data, &page); err != nil {
			t.Fatal(err)
		}
		seen += len(page.Revocations)
		after = page.Next
	}
}
