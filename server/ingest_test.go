package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestIngestRejectionNamesJSONField checks that each rejected record's
// error names the record, the JSON field as sent, the value and what to
// send, and never a Go name or a raw token.
func TestIngestRejectionNamesJSONField(t *testing.T) {
	ts := newTestServer(t, nil)
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6InRvay0xIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	const valid = `"id":"e1","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"tok-1"`
	tests := []struct {
		name   string
		record string
		want   []string
	}{
		{"kind missing", `{"id":"e1","time":"2026-11-20T10:00:00Z","token_id":"tok-1"}`,
			[]string{`field "kind" is missing`, "issued, used, refreshed, revoked, rejected, session"}},
		{"kind unknown", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"use","token_id":"tok-1"}`,
			[]string{`field "kind" is not one of issued, used, refreshed, revoked, rejected, session: got "use"`}},
		{"kind as sent", `{"id":"e1","time":"2026-11-20T10:00:00Z","Kind":3,"token_id":"tok-1"}`,
			[]string{`field "Kind" is not one of issued`, "got 3"}},
		{"reject reason", `{` + valid + `,"reject_reason":"too_old"}`,
			[]string{`field "reject_reason" is not one of bad_signature, expired,`, `got "too_old"`}},
		{"time format", `{"id":"e1","time":"2026-11-20 10:00:00","kind":"used","token_id":"tok-1"}`,
			[]string{`field "time" is not an RFC 3339 time such as "2026-11-20T10:00:00Z": got "2026-11-20 10:00:00"`}},
		{"time missing", `{"id":"e1","kind":"used","token_id":"tok-1"}`,
			[]string{`field "time" is missing: send an RFC 3339 time`}},
		{"expiry type", `{` + valid + `,"expires_at":1700000000}`,
			[]string{`field "expires_at" is not an RFC 3339 time`, "got 1700000000"}},
		{"status string", `{` + valid + `,"status":"200"}`,
			[]string{`field "status" is not an HTTP status code, a whole number from 100 to 599: got "200": send it as a JSON number, without quotes: 200`}},
		{"status range", `{` + valid + `,"status":42}`,
			[]string{`field "status" is not an HTTP status code`, `got "42"`}},
		{"ip", `{` + valid + `,"ip":"10.0.0"}`,
			[]string{`field "ip" is not an IPv4 or IPv6 address`, `got "10.0.0"`}},
		{"nested geo", `{` + valid + `,"geo":{"asn":"AS64500"}}`,
			[]string{`field "geo.asn" is not a whole number`, "got a JSON string"}},
		{"audience", `{` + valid + `,"audience":"api"}`,
			[]string{`field "audience" is not an array of strings: got "api"`}},
		{"revocation scope", `{` + valid + `,"revocation_scope":"family"}`,
			[]string{`field "revocation_scope" is set on a used event`}},
		{"fingerprint", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"used","fingerprint":"abc"}`,
			[]string{`field "fingerprint" is not 64 lowercase hex digits`, `got "abc"`}},
		{"no token", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"used","jti":"tok-1"}`,
			[]string{`field "token_id" is missing, and so is the fingerprint`, `key "jti" is not a field of an event, so it was ignored`}},
		{"id missing", `{"time":"2026-11-20T10:00:00Z","kind":"used","token_id":"tok-1"}`,
			[]string{`field "id" is missing: send a stable id`}},
		{"long value cut", `{` + valid + `,"status":"` + strings.Repeat("9", 200) + `"}`,
			[]string{`got "99999`, "..."}},
		{"token in value", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"` + jwt + `","token_id":"tok-1"}`,
			[]string{`field "kind" is not one of`, "[jwt sha256:"}},
		{"token as fingerprint", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"used","fingerprint":"` + jwt + `"}`,
			[]string{`field "fingerprint" is not 64 lowercase hex digits`, "[jwt sha256:"}},
		{"array record", `[1,2]`, []string{"the record is a JSON array, but it must be a JSON object"}},
		{"null record", `null`, []string{"the record is null, but it must be a JSON object"}},
		{"revoked without role", `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"revoked","token_id":"tok-1"}`,
			[]string{"needs a key with the revoke role", "or record it with POST /api/v1/revocations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "[" + `{"id":"ok","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"tok-ok"},` + tt.record + "]"
			resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(body))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST = %d %s, want 200", resp.StatusCode, data)
			}
			var res ingestResult
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) != 1 || res.Rejected[0].Index != 1 {
				t.Fatalf("rejected = %+v, want record 1 only", res.Rejected)
			}
			msg := res.Rejected[0].Error
			if !strings.HasPrefix(msg, "record 1: ") {
				t.Errorf("error = %q, want it to start with the record index", msg)
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error = %q, want it to contain %q", msg, want)
				}
			}
			for _, goName := range []string{"field Kind", "kind(", "TokenID", "RejectReason", "Go struct", "audit.", "2006-01-02", "eyJ"} {
				if strings.Contains(msg, goName) {
					t.Errorf("error = %q, which contains %q", msg, goName)
				}
			}
		})
	}
}

// TestIngestBodyShapes checks the error of each body that is no list of
// events, and the bodies that are accepted though odd.
func TestIngestBodyShapes(t *testing.T) {
	ts := newTestServer(t, nil)
	event := `{"id":"e-%d","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"tok-1"}`
	one := strings.Replace(event, "%d", "1", 1)
	two := strings.Replace(event, "%d", "2", 1)
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		want        string
	}{
		{"empty", "", "", http.StatusBadRequest, "empty body: send a JSON array of events"},
		{"only white space", " \n\t ", "application/json", http.StatusBadRequest, "empty body: send a JSON array of events"},
		{"empty NDJSON", "\n\n", "application/x-ndjson", http.StatusBadRequest, "empty body: send one event per line"},
		{"object", one, "application/json", http.StatusBadRequest, "the body is a JSON object, but ingest takes a JSON array of events"},
		{"NDJSON sent as JSON", one + "\n" + two, "application/json", http.StatusBadRequest, "application/x-ndjson"},
		{"string", `"events"`, "", http.StatusBadRequest, "the body is a JSON string, but ingest takes a JSON array"},
		{"array cut", "[" + one + "," + two[:20], "", http.StatusBadRequest, "the body ends inside the JSON array, after 1 complete event, as if it was cut short"},
		{"array unclosed", "[" + one, "", http.StatusBadRequest, "the body ends inside the JSON array, after 1 complete event"},
		{"UTF-16", "\xff\xfe[\x00]\x00", "", http.StatusBadRequest, "UTF-16"},
		{"form content type", "[" + one + "]", "application/x-www-form-urlencoded", http.StatusBadRequest, "curl -d"},
		{"other charset", "[" + one + "]", "application/json; charset=latin1", http.StatusBadRequest, "unsupported charset"},
		{"byte order mark", "\xef\xbb\xbf[" + one + "]", "application/json", http.StatusOK, `"rejected":[]`},
		{"byte order mark NDJSON", "\xef\xbb\xbf" + one + "\n" + two, "application/x-ndjson", http.StatusOK, `"rejected":[]`},
		{"NDJSON last line cut", one + "\n" + two[:30], "application/x-ndjson", http.StatusOK,
			"record 1: the record ends inside its JSON value, as if it was cut short: send the whole record"},
		{"NDJSON array line", "[" + one + "]", "application/x-ndjson", http.StatusOK,
			"record 0: the record is a JSON array, but it must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.contentType != "" {
				header = []string{"Content-Type", tt.contentType}
			}
			resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(tt.body), header...)
			if resp.StatusCode != tt.status {
				t.Fatalf("POST %q = %d %s, want %d", tt.body, resp.StatusCode, data, tt.status)
			}
			if !strings.Contains(string(data), tt.want) {
				t.Errorf("POST %q = %s, want it to contain %q", tt.body, data, tt.want)
			}
			if strings.Contains(string(data), "inside the array") && tt.body == "" {
				t.Errorf("POST empty = %s, which says the body ends inside the array", data)
			}
		})
	}
}

// TestIngestEveryFieldNamed sends, for every field of the JSON form of an
// event, a record whose field has the wrong JSON type, and checks that the
// rejection names that field as sent.
func TestIngestEveryFieldNamed(t *testing.T) {
	ts := newTestServer(t, nil)
	fields := append(eventFieldNames(), "geo.country", "geo.city", "geo.latitude", "geo.longitude", "geo.accuracy_km", "geo.asn", "geo.org")
	var records []string
	for _, field := range fields {
		// A string field gets an object; every other field gets a string
		// that no form accepts.
		value := `{"x":1}`
		if form := eventForm(field); form != "a string" {
			value = `"not-valid"`
		}
		record := `{"id":"e1","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"tok-1"`
		if top, nested, ok := strings.Cut(field, "."); ok {
			record += fmt.Sprintf(",%q:{%q:%s}}", top, nested, value)
		} else {
			record = strings.Replace(record, fmt.Sprintf("%q:", field), `"replaced":`, 1)
			record += fmt.Sprintf(",%q:%s}", field, value)
		}
		records = append(records, record)
	}
	resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte("["+strings.Join(records, ",")+"]"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST = %d %s, want 200", resp.StatusCode, data)
	}
	var res ingestResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != len(fields) {
		t.Fatalf("rejected %d records, want all %d: %s", len(res.Rejected), len(fields), data)
	}
	for i, r := range res.Rejected {
		want := fmt.Sprintf("record %d: field %q is not %s: got ", i, fields[i], eventForm(fields[i]))
		if r.Index != i || !strings.HasPrefix(r.Error, want) {
			t.Errorf("rejection %d = index %d %q, want it to start with %q", i, r.Index, r.Error, want)
		}
	}
}
