package k8saudit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// baseRecord is a ResponseComplete record of a request made with a
// service-account token.
const baseRecord = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",` +
	`"auditID":"11111111-2222-4333-8444-555555555555","stage":"ResponseComplete",` +
	`"requestURI":"/api/v1/namespaces/shop/configmaps/cart","verb":"get",` +
	`"user":{"username":"system:serviceaccount:shop:cart","groups":["system:serviceaccounts"],` +
	`"extra":{"authentication.kubernetes.io/credential-id":["JTI=6d0f3b9e-58a1-4c2e-9f7d-0a4b8c1e2d3f"]}},` +
	`"sourceIPs":["10.1.2.3"],"userAgent":"cart/1.0","responseStatus":{"metadata":{},"code":200},` +
	`"requestReceivedTimestamp":"2025-02-01T08:00:00.000001Z","stageTimestamp":"2025-02-01T08:00:00.002Z"}`

const baseJTI = "6d0f3b9e-58a1-4c2e-9f7d-0a4b8c1e2d3f"

// remove marks a key for deletion in makeRecord.
type remove struct{}

// makeRecord returns baseRecord with the top-level keys of changes set, or
// deleted where the value is remove{}.
func makeRecord(tb testing.TB, changes map[string]any) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(baseRecord), &m); err != nil {
		tb.Fatal(err)
	}
	for k, v := range changes {
		if _, ok := v.(remove); ok {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// stageRecord returns a record of request id at stage.
func stageRecord(tb testing.TB, id, stage string) string {
	tb.Helper()
	return makeRecord(tb, map[string]any{"auditID": id, "stage": stage})
}

// x509Record returns a record of a request made with a client certificate.
func x509Record(tb testing.TB, id string) string {
	tb.Helper()
	return makeRecord(tb, map[string]any{"auditID": id, "user": map[string]any{
		"username": "admin",
		"extra":    map[string]any{credentialIDKey: []string{"X509SHA256=ab12"}},
	}})
}

func TestParseBadRecords(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		reason string // a part of the rejection reason
	}{
		{
			name:   "truncated JSON",
			line:   baseRecord[:len(baseRecord)/2],
			reason: "invalid JSON at byte",
		},
		{
			name:   "sourceIPs a string",
			line:   makeRecord(t, map[string]any{"sourceIPs": "10.1.2.3"}),
			reason: "field sourceIPs is a JSON string, want an array of strings",
		},
		{
			name:   "code a string",
			line:   makeRecord(t, map[string]any{"responseStatus": map[string]any{"code": "200"}}),
			reason: "field responseStatus.code is a JSON string, want an integer",
		},
		{
			name:   "credential id not an array",
			line:   makeRecord(t, map[string]any{"user": map[string]any{"extra": map[string]any{credentialIDKey: "JTI=x"}}}),
			reason: "is a JSON string, want an array of strings",
		},
		{
			name:   "invalid UTF-8",
			line:   strings.Replace(baseRecord, "cart/1.0", "cart\xff/1.0", 1),
			reason: "invalid UTF-8 at byte ",
		},
		{
			name:   "record a string",
			line:   `"audit"`,
			reason: "record is a JSON string, want an object",
		},
		{
			name:   "timestamps missing",
			line:   makeRecord(t, map[string]any{"requestReceivedTimestamp": remove{}, "stageTimestamp": remove{}}),
			reason: "requestReceivedTimestamp and stageTimestamp are both missing",
		},
		{
			name:   "timestamps null strings",
			line:   makeRecord(t, map[string]any{"requestReceivedTimestamp": "null", "stageTimestamp": "null"}),
			reason: "requestReceivedTimestamp and stageTimestamp are both missing",
		},
		{
			name:   "timestamp invalid",
			line:   makeRecord(t, map[string]any{"requestReceivedTimestamp": "01/02/2025 08:00"}),
			reason: `field requestReceivedTimestamp "01/02/2025 08:00" is not an RFC 3339 time`,
		},
		{
			name:   "source IP invalid",
			line:   makeRecord(t, map[string]any{"sourceIPs": []string{"10.1.2"}}),
			reason: `sourceIPs[0] "10.1.2" is not an IP address`,
		},
		{
			name:   "auditID missing",
			line:   makeRecord(t, map[string]any{"auditID": remove{}}),
			reason: "auditID is missing",
		},
		{
			name:   "stage missing",
			line:   makeRecord(t, map[string]any{"stage": remove{}}),
			reason: "stage is missing",
		},
		{
			name:   "stage unknown",
			line:   makeRecord(t, map[string]any{"stage": "Done"}),
			reason: `stage "Done" is not one of`,
		},
		{
			name:   "kind not an audit event",
			line:   `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web"}}`,
			reason: `kind "Pod" is not an audit Event or EventList`,
		},
		{
			name:   "apiVersion not audit",
			line:   makeRecord(t, map[string]any{"apiVersion": "v1"}),
			reason: `apiVersion "v1" is not audit.k8s.io/v1`,
		},
		{
			name:   "empty jti",
			line:   makeRecord(t, map[string]any{"user": map[string]any{"extra": map[string]any{credentialIDKey: []string{"JTI="}}}}),
			reason: `credential id "JTI=" has an empty jti`,
		},
		{
			name:   "status out of range",
			line:   makeRecord(t, map[string]any{"responseStatus": map[string]any{"code": 999}}),
			reason: "used event is invalid: field Status is not an HTTP status code",
		},
		{
			name:   "list item not an event",
			line:   `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"kind":"EventList","items":[]}]}`,
			reason: "items[0]: an EventList inside a list is not an audit event",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The good record after the bad one shows that reading goes on.
			text := tt.line + "\n" + baseRecord + "\n"

			r, err := parseText(t, "bad.jsonl", text, PendingWindow)

			if err != nil {
				t.Fatalf("parse = %v, want nil", err)
			}
			if len(r.rejects) != 1 {
				t.Fatalf("rejects = %d, want 1:\n%s", len(r.rejects), r)
			}
			got := r.rejects[0]
			if got.File != "bad.jsonl" || got.Line != 1 {
				t.Errorf("reject location = %s:%d, want bad.jsonl:1", got.File, got.Line)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reject reason = %q, want it to contain %q", got.Reason, tt.reason)
			}
			if len(r.events) != 1 || r.events[0].Source != "bad.jsonl:2" {
				t.Errorf("events = %v, want the one from line 2", r.events)
			}
		})
	}
}

func TestParseLongLine(t *testing.T) {
	long := `{"auditID":"` + strings.Repeat("a", source.MaxLineBytes) + `"}`
	text := long + "\n" + baseRecord + "\n"

	r, err := parseText(t, "long.jsonl", text, PendingWindow)

	if err != nil {
		t.Fatalf("parse = %v, want nil", err)
	}
	if len(r.rejects) != 1 || r.rejects[0].Line != 1 || !strings.Contains(r.rejects[0].Reason, "line too long") {
		t.Errorf("rejects = %v, want line 1 too long", r.rejects)
	}
	if len(r.events) != 1 || r.events[0].Source != "long.jsonl:2" {
		t.Errorf("events = %v, want the one from line 2", r.events)
	}
}

func TestParseNullStrings(t *testing.T) {
	text := makeRecord(t, map[string]any{
		"requestReceivedTimestamp": "null",
		"userAgent":                "null",
		"sourceIPs":                []string{"null"},
	})

	r, err := parseText(t, "null.jsonl", text, PendingWindow)

	if err != nil || len(r.events) != 1 {
		t.Fatalf("parse = %v with %d events, want 1 event:\n%s", err, len(r.events), r)
	}
	e := r.events[0]
	if want := mustTime(t, "2025-02-01T08:00:00.002Z"); !e.Time.Equal(want) {
		t.Errorf("Time = %v, want stageTimestamp %v", e.Time, want)
	}
	if e.UserAgent != "" {
		t.Errorf("UserAgent = %q, want empty", e.UserAgent)
	}
	if e.IP.IsValid() {
		t.Errorf("IP = %v, want none", e.IP)
	}
}

func TestParseSourceIPs(t *testing.T) {
	tests := []struct {
		name string
		ips  []string
		want netip.Addr
	}{
		{name: "IPv6 kept", ips: []string{"2001:db8::7", "10.0.0.1"}, want: netip.MustParseAddr("2001:db8::7")},
		{name: "IPv4-mapped unmapped", ips: []string{"::ffff:10.9.8.7"}, want: netip.MustParseAddr("10.9.8.7")},
		{name: "none", ips: nil, want: netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := makeRecord(t, map[string]any{"sourceIPs": tt.ips})

			r, err := parseText(t, "ip.jsonl", text, PendingWindow)

			if err != nil || len(r.events) != 1 {
				t.Fatalf("parse = %v with %d events, want 1 event:\n%s", err, len(r.events), r)
			}
			if got := r.events[0].IP; got != tt.want {
				t.Errorf("IP = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSkipReasonsGroupByUser(t *testing.T) {
	user := map[string]any{"username": "system:apiserver"}
	text := makeRecord(t, map[string]any{"auditID": "a1", "user": user}) + "\n" +
		makeRecord(t, map[string]any{"auditID": "a2", "user": user})

	r, err := parseText(t, "skip.jsonl", text, PendingWindow)

	if err != nil {
		t.Fatalf("parse = %v, want nil", err)
	}
	if first, second := r.skipAt(t, 1), r.skipAt(t, 2); first != second {
		t.Errorf("skip reasons = %q and %q, want one reason for two requests of one user, so that import -v counts them together", first, second)
	}
}

func TestParseSkipsNonTokenRequests(t *testing.T) {
	tests := []struct {
		name   string
		user   map[string]any
		reason string
	}{
		{
			name:   "client certificate",
			user:   map[string]any{"username": "admin", "extra": map[string]any{credentialIDKey: []string{"X509SHA256=ab12"}}},
			reason: "admin was authenticated with an X.509 client certificate",
		},
		{
			name:   "no credential id",
			user:   map[string]any{"username": "system:anonymous"},
			reason: "system:anonymous has no credential id",
		},
		{
			name:   "other credential kind",
			user:   map[string]any{"username": "bob", "extra": map[string]any{credentialIDKey: []string{"OIDC=x"}}},
			reason: `credential id kind "OIDC", which is not a JWT id`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := makeRecord(t, map[string]any{"user": tt.user})

			r, err := parseText(t, "skip.jsonl", text, PendingWindow)

			if err != nil {
				t.Fatalf("parse = %v, want nil", err)
			}
			if len(r.events) != 0 || len(r.rejects) != 0 {
				t.Errorf("got %d events and %d rejects, want none:\n%s", len(r.events), len(r.rejects), r)
			}
			if reason := r.skipAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("skip reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

// TestParseStages checks how the stage records of requests are merged, with
// a pending window of two records.
func TestParseStages(t *testing.T) {
	const a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	tests := []struct {
		name    string
		records []string
		events  []string // Source line and status of each event, in order
		skips   []int
	}{
		{
			name:    "final stage replaces received",
			records: []string{stageRecord(t, a, "RequestReceived"), stageRecord(t, a, "ResponseComplete")},
			events:  []string{"2/200"},
			skips:   []int{1},
		},
		{
			name: "received alone emitted at end",
			records: []string{
				makeRecord(t, map[string]any{"auditID": a, "stage": "RequestReceived", "responseStatus": remove{}}),
			},
			events: []string{"1/0"},
		},
		{
			name: "window passes before final stage",
			records: []string{
				stageRecord(t, a, "RequestReceived"),
				x509Record(t, "x1"), x509Record(t, "x2"), x509Record(t, "x3"),
				stageRecord(t, a, "ResponseComplete"),
			},
			// Record 1 waits for records 2 and 3 and is emitted when
			// record 4 arrives. The final stage is then a repeat.
			events: []string{"1/200"},
			skips:  []int{2, 3, 4, 5},
		},
		{
			name: "final stage within window",
			records: []string{
				stageRecord(t, a, "RequestReceived"),
				x509Record(t, "x1"),
				stageRecord(t, a, "ResponseComplete"),
			},
			events: []string{"3/200"},
			skips:  []int{1, 2},
		},
		{
			name:    "earlier stage after final",
			records: []string{stageRecord(t, a, "ResponseComplete"), stageRecord(t, a, "RequestReceived")},
			events:  []string{"1/200"},
			skips:   []int{2},
		},
		{
			name:    "earlier stage after held later stage",
			records: []string{stageRecord(t, a, "ResponseStarted"), stageRecord(t, a, "RequestReceived")},
			events:  []string{"1/200"},
			skips:   []int{2},
		},
		{
			name:    "duplicate final stage",
			records: []string{stageRecord(t, a, "ResponseComplete"), stageRecord(t, a, "ResponseComplete")},
			events:  []string{"1/200"},
			skips:   []int{2},
		},
		{
			name: "panic is final",
			records: []string{
				stageRecord(t, a, "RequestReceived"),
				makeRecord(t, map[string]any{"auditID": a, "stage": "Panic", "responseStatus": map[string]any{"code": 500}}),
			},
			events: []string{"2/500"},
			skips:  []int{1},
		},
		{
			name: "held requests emitted in order",
			records: []string{
				stageRecord(t, b, "RequestReceived"),
				stageRecord(t, a, "RequestReceived"),
				stageRecord(t, b, "ResponseStarted"),
			},
			// b's latest record came after a's.
			events: []string{"2/200", "3/200"},
			skips:  []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Join(tt.records, "\n")

			r, err := parseText(t, "stages.jsonl", text, 2)

			if err != nil {
				t.Fatalf("parse = %v, want nil", err)
			}
			var events []string
			for _, e := range r.events {
				events = append(events, fmt.Sprintf("%s/%d", strings.TrimPrefix(e.Source, "stages.jsonl:"), e.Status))
			}
			if fmt.Sprint(events) != fmt.Sprint(tt.events) {
				t.Errorf("events = %v, want %v\n%s", events, tt.events, r)
			}
			// A superseded record is reported when its successor arrives,
			// so skips are compared in line order.
			var skips []int
			for _, s := range r.skips {
				skips = append(skips, s.line)
			}
			slices.Sort(skips)
			if fmt.Sprint(skips) != fmt.Sprint(tt.skips) {
				t.Errorf("skipped lines = %v, want %v\n%s", skips, tt.skips, r)
			}
		})
	}
}

func TestParsePendingBounded(t *testing.T) {
	const window, requests = 50, 5000
	var text strings.Builder
	for i := range requests {
		text.WriteString(stageRecord(t, fmt.Sprintf("req-%05d", i), "RequestReceived"))
		text.WriteByte('\n')
	}
	r := &result{}
	p := newParser("many.jsonl", r, window)

	maxPending, maxOrder := 0, 0
	lr := source.NewLineReader(strings.NewReader(text.String()), 0)
	for {
		line, n, err := lr.Next()
		if err != nil {
			break
		}
		if err := p.value(line, n); err != nil {
			t.Fatal(err)
		}
		maxPending = max(maxPending, len(p.stages.pending))
		maxOrder = max(maxOrder, len(p.stages.order))
	}
	if err := p.stages.flush(p.emit); err != nil {
		t.Fatal(err)
	}

	if maxPending > window+1 {
		t.Errorf("pending requests reached %d, want at most the window %d plus the record just added", maxPending, window)
	}
	if maxOrder > 2*window+2 {
		t.Errorf("pending queue reached %d entries, want at most %d", maxOrder, 2*window+2)
	}
	if len(r.events) != requests {
		t.Errorf("events = %d, want %d", len(r.events), requests)
	}
	for i, e := range r.events {
		if want := fmt.Sprintf("many.jsonl:%d", i+1); e.Source != want {
			t.Fatalf("event %d Source = %s, want %s (file order)", i, e.Source, want)
		}
	}
}

// TestParseForgottenRequest shows the documented limit: a stage of a
// request that is no longer remembered is emitted again with the same ID.
func TestParseForgottenRequest(t *testing.T) {
	const a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	r := &result{}
	p := &parser{file: "forget.jsonl", h: r, stages: newStageTrackerSize(10, 1)}
	text := strings.Join([]string{
		stageRecord(t, a, "ResponseComplete"),
		stageRecord(t, b, "ResponseComplete"),
		stageRecord(t, a, "ResponseComplete"),
	}, "\n")

	if err := p.parse(context.Background(), strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}

	if len(r.events) != 3 {
		t.Fatalf("events = %d, want 3:\n%s", len(r.events), r)
	}
	if r.events[0].ID != r.events[2].ID {
		t.Errorf("repeated request IDs %s and %s differ, want equal so that a store drops the copy", r.events[0].ID, r.events[2].ID)
	}
}

func TestParseEventList(t *testing.T) {
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		baseRecord + "," + x509Record(t, "x1") + `,{"auditID":1}]}`

	r, err := parseText(t, "list.jsonl", list+"\n"+`{"kind":"EventList","items":[]}`, PendingWindow)

	if err != nil {
		t.Fatalf("parse = %v, want nil", err)
	}
	if len(r.events) != 1 || len(r.skips) != 2 || len(r.rejects) != 1 {
		t.Fatalf("got %d events, %d skips, %d rejects, want 1, 2, 1:\n%s", len(r.events), len(r.skips), len(r.rejects), r)
	}
	if e := r.events[0]; e.TokenID != baseJTI {
		t.Errorf("event TokenID = %q, want items[0]'s %q", e.TokenID, baseJTI)
	}
	if e := r.events[0]; e.Source != "list.jsonl:1" {
		t.Errorf("event Source = %q, want list.jsonl:1", e.Source)
	}
	if got := r.skips[0].reason; !strings.HasPrefix(got, "items[1]: ") {
		t.Errorf("first skip reason = %q, want it to start with items[1]", got)
	}
	if got := r.skips[1].reason; got != "EventList has no items" {
		t.Errorf("second skip reason = %q, want the empty list", got)
	}
	if got := r.rejects[0].Reason; !strings.HasPrefix(got, "items[2]: field auditID is a JSON number") {
		t.Errorf("reject reason = %q, want items[2] with a numeric auditID", got)
	}
}

func TestParseArrayLine(t *testing.T) {
	text := "[" + baseRecord + "," + stageRecord(t, "other", "ResponseComplete") + "]"

	r, err := parseText(t, "array.jsonl", text, PendingWindow)

	if err != nil || len(r.events) != 2 {
		t.Fatalf("parse = %v with %d events, want 2:\n%s", err, len(r.events), r)
	}
}

// indentedList returns an EventList of records, pretty-printed, and the line
// on which each item starts.
func indentedList(tb testing.TB, records ...string) (string, []int) {
	tb.Helper()
	compact := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(records, ",") + `]}`
	doc, err := indentJSON([]byte(compact))
	if err != nil {
		tb.Fatal(err)
	}

	var starts []int
	for i, l := range strings.Split(string(doc), "\n") {
		if l == "    {" {
			starts = append(starts, i+1)
		}
	}
	return string(doc), starts
}

func indentJSON(compact []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(compact, &v); err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

func TestParseDocument(t *testing.T) {
	doc, starts := indentedList(t, baseRecord, x509Record(t, "x1"), stageRecord(t, "later", "RequestReceived"))

	r, err := parseText(t, "list.json", "\n"+doc+"\n", PendingWindow)

	if err != nil {
		t.Fatalf("parse = %v, want nil", err)
	}
	if len(starts) != 3 {
		t.Fatalf("found %d item starts in the document, want 3", len(starts))
	}
	// The blank first line shifts every item by one.
	want := []string{fmt.Sprintf("list.json:%d", starts[0]+1), fmt.Sprintf("list.json:%d", starts[2]+1)}
	var got []string
	for _, e := range r.events {
		got = append(got, e.Source)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("event sources = %v, want %v", got, want)
	}
	if len(r.skips) != 1 || r.skips[0].line != starts[1]+1 {
		t.Errorf("skips = %v, want line %d", r.skips, starts[1]+1)
	}
}

func TestParseDocumentOfEvents(t *testing.T) {
	// A pretty-printer run over a JSON-lines file writes one object after
	// the other.
	first, err := indentJSON([]byte(baseRecord))
	if err != nil {
		t.Fatal(err)
	}
	second, err := indentJSON([]byte(stageRecord(t, "second", "ResponseComplete")))
	if err != nil {
		t.Fatal(err)
	}
	text := string(first) + "\n" + string(second) + "\n"
	secondLine := strings.Count(string(first), "\n") + 2

	r, err := parseText(t, "events.json", text, PendingWindow)

	if err != nil {
		t.Fatalf("parse = %v, want nil", err)
	}
	want := []string{"events.json:1", fmt.Sprintf("events.json:%d", secondLine)}
	var got []string
	for _, e := range r.events {
		got = append(got, e.Source)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("event sources = %v, want %v\n%s", got, want, r)
	}
}

func TestParseDocumentBroken(t *testing.T) {
	doc, starts := indentedList(t, baseRecord, stageRecord(t, "second", "ResponseComplete"))
	lines := strings.Split(doc, "\n")
	// Cut the second item after its first field.
	broken := strings.Join(lines[:starts[1]+1], "\n") + "\n    ]\n}\n"

	r, err := parseText(t, "broken.json", broken, PendingWindow)

	if !errors.Is(err, ErrUnreadableDocument) {
		t.Errorf("parse = %v, want ErrUnreadableDocument", err)
	}
	if len(r.events) != 1 || r.events[0].Source != fmt.Sprintf("broken.json:%d", starts[0]) {
		t.Errorf("events = %v, want the first item", r.events)
	}
	if len(r.rejects) != 1 || !strings.Contains(r.rejects[0].Reason, "invalid JSON") {
		t.Fatalf("rejects = %v, want one invalid JSON", r.rejects)
	}
	if got := r.rejects[0].Line; got <= starts[1] {
		t.Errorf("reject line = %d, want after the second item's start %d", got, starts[1])
	}
}

func TestParseDocumentTruncated(t *testing.T) {
	doc, _ := indentedList(t, baseRecord)
	cut := doc[:len(doc)-20]

	r, err := parseText(t, "cut.json", cut, PendingWindow)

	if !errors.Is(err, ErrUnreadableDocument) {
		t.Errorf("parse = %v, want ErrUnreadableDocument", err)
	}
	if len(r.rejects) != 1 || !strings.Contains(r.rejects[0].Reason, "ends inside a JSON value") {
		t.Errorf("rejects = %v, want the document cut short", r.rejects)
	}
}

func TestDocumentReaderLines(t *testing.T) {
	d := &documentReader{r: strings.NewReader("a\nbb\n\ncc\n")}
	buf := make([]byte, 3)
	for {
		if _, err := d.Read(buf); err != nil {
			break
		}
	}

	tests := []struct {
		offset int64
		want   int
	}{
		{0, 1}, {1, 1}, {2, 2}, {5, 3}, {6, 4}, {8, 4}, {9, 5},
	}
	for _, tt := range tests {
		if got := d.lineAt(tt.offset); got != tt.want {
			t.Errorf("lineAt(%d) = %d, want %d", tt.offset, got, tt.want)
		}
	}
}

func TestParseStopsOnHandlerError(t *testing.T) {
	boom := errors.New("store full")
	h := &failingHandler{err: boom}
	in := source.Input{Reader: strings.NewReader(baseRecord + "\n" + baseRecord), Name: "x.jsonl"}

	err := Format().Parse(context.Background(), in, h)

	if !errors.Is(err, boom) {
		t.Errorf("Parse = %v, want the handler's error", err)
	}
}

func TestParseCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := source.Input{Reader: strings.NewReader(baseRecord), Name: "x.jsonl"}

	err := Format().Parse(ctx, in, &result{})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Parse = %v, want context.Canceled", err)
	}
}

func TestParseByteOrderMark(t *testing.T) {
	r, err := parseText(t, "bom.jsonl", "\xEF\xBB\xBF"+baseRecord+"\r\n", PendingWindow)

	if err != nil || len(r.events) != 1 || len(r.rejects) != 0 {
		t.Errorf("parse = %v, events %d, rejects %v, want 1 event", err, len(r.events), r.rejects)
	}
}

func TestFormatName(t *testing.T) {
	if got := Format().Name; got != "k8saudit" {
		t.Errorf("Format().Name = %q, want k8saudit", got)
	}
}

func TestEventsValidate(t *testing.T) {
	r := parseFile(t, "testdata/tokenrequest.jsonl")
	for _, e := range r.events {
		if err := e.Validate(); err != nil {
			t.Errorf("event from %s: Validate() = %v", e.Source, err)
		}
		if e.Kind != audit.KindUsed && e.Kind != audit.KindIssued {
			t.Errorf("event from %s has kind %s, want used or issued", e.Source, e.Kind)
		}
	}
}

// failingReader returns its data, then an error instead of io.EOF, as a
// truncated gzip stream does.
type failingReader struct{ data *strings.Reader }

func (f failingReader) Read(b []byte) (int, error) {
	n, err := f.data.Read(b)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestParseKeepsHeldRequestsOnReadError(t *testing.T) {
	// One request seen only in its first stage, then the input breaks off.
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"held-1","stage":"RequestReceived","requestURI":"/api/v1/pods","verb":"list","user":{"username":"system:serviceaccount:x:y","extra":{"authentication.kubernetes.io/credential-id":["JTI=11111111-2222-4333-8444-555555555555"]}},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl","requestReceivedTimestamp":"2025-07-13T10:28:00.000000Z","stageTimestamp":"2025-07-13T10:28:00.000000Z"}` + "\n"
	r := &result{}
	in := source.Input{Reader: failingReader{strings.NewReader(line)}, Name: "cut.jsonl"}

	err := Format().Parse(context.Background(), in, r)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Parse error = %v, want the read error", err)
	}
	if len(r.events) != 1 || r.events[0].TraceID != "held-1" {
		t.Errorf("events = %+v, want the held request", r.events)
	}
}
