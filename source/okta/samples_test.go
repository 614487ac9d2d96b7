package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/shareddata"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// TestElasticSample reads the Okta sample of Elastic's integrations: a
// logout, a login and the sign-on policy evaluation of that login.
func TestElasticSample(t *testing.T) {
	const file = "okta-system-log-elastic-integrations.jsonl"
	r := parseFile(t, shareddata.File(t, file))
	checkTotals(t, r, 3, 0, 0)

	dublin := audit.Geo{Country: "United States", City: "Dublin", Latitude: 37.7201, Longitude: -121.919}
	const firefox72 = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:72.0) Gecko/20100101 Firefox/72.0"
	ip := netip.MustParseAddr("175.16.199.1")

	checkEvents(t, r.eventsAt(file, 1), audit.Event{
		ID: audit.NewID("okta", "faf7398a-4f77-11ea-97fb-5925e98228bd"), Time: mustTime(t, "2020-02-14T22:18:51.843Z"),
		Kind: audit.KindSession, Action: "user.session.end",
		Subject: "00u1abvz4pYqdM8ms4x6", SessionID: "102nZHzd6OHSfGG51vsoc22gw",
		IP: ip, UserAgent: firefox72, Geo: dublin, Path: "/login/signout",
		TraceID: "XkccyyMli2Uay2I93ZgRzQAAB0c", Reason: "SUCCESS", Source: file + ":1",
	})
	checkEvents(t, r.eventsAt(file, 3), audit.Event{
		ID: audit.NewID("okta", "3af594f9-4f67-11ea-abd3-1f5d113f2546"), Time: mustTime(t, "2020-02-14T20:18:57.762Z"),
		Kind: audit.KindSession, Action: "policy.evaluate_sign_on",
		Subject: "00u1abvz4pYqdM8ms4x6", SessionID: "102bZDNFfWaQSyEZQuDgWt-uQ",
		IP: ip, UserAgent: firefox72, Geo: dublin, Path: "/api/v1/authn",
		TraceID: "XkcAsWb8WjwDP76xh@1v8wAABp0", Reason: "ALLOW: Sign-on policy evaluation resulted in ALLOW",
		Source: file + ":3",
	})
}

// TestSekoiaSample reads the Okta samples of Sekoia's intake formats:
// federated and MFA sign-ins, single sign-on without a session, and account
// changes.
func TestSekoiaSample(t *testing.T) {
	const file = "okta-system-log-sekoia.jsonl"
	r := parseFile(t, shareddata.File(t, file))
	checkTotals(t, r, 4, 6, 0)

	paris := audit.Geo{Country: "France", City: "Paris", Latitude: 48.856944, Longitude: 2.351389, ASN: 3741, Org: "Easttel"}
	const chrome107 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0.0.0 Safari/537.36"
	ip := netip.MustParseAddr("1.2.3.4")

	t.Run("federated sign-in", func(t *testing.T) {
		// The actor is the Okta system: the user is the User target.
		checkEvents(t, r.eventsAt(file, 2), audit.Event{
			ID: audit.NewID("okta", "7a353625-99c9-435b-a4b6-b1137a5e6edb"), Time: mustTime(t, "2022-11-15T08:04:22.213Z"),
			Kind: audit.KindSession, Action: "user.authentication.auth_via_IDP",
			Subject: "REDACTED", ClientID: "kdYO9RZnIHNhV6vii333b", SessionID: "kjrgFtXuZnABQV9Vq1A2c",
			IP: ip, UserAgent: chrome107, Geo: paris,
			TraceID: "jI80snAs0ZMym5tvc8Jbp", Reason: "SUCCESS", Source: file + ":2",
		})
	})

	t.Run("second factor", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 3), audit.Event{
			ID: audit.NewID("okta", "cb9a43c9-a765-49ba-b2d5-7b9a263d4061"), Time: mustTime(t, "2022-11-02T12:00:00Z"),
			Kind: audit.KindSession, Action: "user.authentication.auth_via_mfa",
			Subject: "REDACTED", SessionID: "kjrgFtXuZnABQV9Vq1A2c",
			IP: ip, UserAgent: chrome107, Geo: paris,
			TraceID: "jI80snAs0ZMym5tvc8Jbp", Reason: "SUCCESS", Source: file + ":3",
		})
	})

	t.Run("old record without location", func(t *testing.T) {
		// UNKNOWN-DOWNLOAD is Okta's user agent for "none".
		checkEvents(t, r.eventsAt(file, 7), audit.Event{
			ID: audit.NewID("okta", "f790999f-fe87-467a-9880-6982a583986c"), Time: mustTime(t, "2017-09-30T22:23:07.777Z"),
			Kind: audit.KindSession, Action: "user.session.start",
			Subject: "REDACTED", SessionID: "1013FfF-DKQSvCI4RVXChzX-w", IP: ip,
			Path: "/login/do-login", TraceID: "V04Oy4ubUOc5UuG6s9DyNQAABtc", Reason: "SUCCESS", Source: file + ":7",
		})
	})

	t.Run("push challenge", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 8), audit.Event{
			ID: audit.NewID("okta", "d34ae6a4-b9d1-4885-b7ff-59e96829d5fc"), Time: mustTime(t, "2022-11-01T11:04:00.364Z"),
			Kind: audit.KindSession, Action: "system.push.send_factor_verify_push",
			Subject: "REDACTED", SessionID: "kjrgFtXuZnABQV9Vq1A2c",
			IP: ip, UserAgent: chrome107, Geo: paris,
			TraceID: "Y3NH1qHvAmGouHz6XfAtaQAABNU", Reason: "SUCCESS", Source: file + ":8",
		})
	})

	t.Run("skips", func(t *testing.T) {
		want := map[int]string{
			1:  "user.account.lock: not a token or session event",
			4:  "user.authentication.sso: no session id",
			5:  "user.authentication.sso: no session id",
			6:  "user.authentication.sso: no session id",
			9:  "user.authentication.sso: no session id",
			10: "user.account.update_password: not a token or session event",
		}
		for line, reason := range want {
			if got := r.skipAt(t, line); got != reason {
				t.Errorf("skip reason of line %d = %q, want %q", line, got, reason)
			}
		}
	})
}

// TestArrayFile reads a pretty-printed JSON array, as the /api/v1/logs API
// returns the System Log: each event's Source is the line where its record
// starts.
func TestArrayFile(t *testing.T) {
	const file = "system-log-array.json"
	r := parseFile(t, "testdata/"+file)
	checkTotals(t, r, 3, 1, 0)

	stockholm := audit.Geo{Country: "Sweden", City: "Stockholm", Latitude: 59.3293, Longitude: 18.0686, ASN: 64500, Org: "Example Telecom"}
	const bo = "00u1f8exampleUser02"
	ip := netip.MustParseAddr("203.0.113.77")

	checkEvents(t, r.eventsAt(file, 91), audit.Event{
		ID: audit.NewID("okta", "6b2f0002-0000-4000-8000-000000000002"), Time: mustTime(t, "2024-04-02T07:59:58.150Z"),
		Kind: audit.KindSession, Action: "policy.evaluate_sign_on", Subject: bo, SessionID: "102ArrayExampleSession9",
		IP: ip, UserAgent: firefox, Geo: stockholm, Path: "/api/v1/authn", TraceID: "ZgArrayTxn01",
		Reason: "ALLOW: Sign-on policy evaluation resulted in ALLOW", Source: file + ":91",
	})
	checkEvents(t, r.eventsAt(file, 197), audit.Event{
		ID: audit.NewID("okta", "6b2f0002-0000-4000-8000-000000000003", "AT.exampleArray01"), Time: mustTime(t, "2024-04-02T08:00:03.400Z"),
		Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.access_token", TokenID: "AT.exampleArray01",
		Issuer: authServer, Subject: bo, ClientID: client, SessionID: "102ArrayExampleSession9",
		Scopes: []string{"openid", "expenses.read"}, ExpiresAt: mustTime(t, "2024-04-02T09:00:03Z"),
		IP: ip, UserAgent: firefox, Geo: stockholm, Path: tokenPath, TraceID: "ZgArrayTxn02", Source: file + ":197",
	})
	if len(r.eventsAt(file, 2)) != 1 {
		t.Errorf("no event from the first record, at line 2:\n%s", r)
	}
	if got, want := r.skipAt(t, 306), "user.account.lock: not a token or session event"; got != want {
		t.Errorf("skip reason of line 306 = %q, want %q", got, want)
	}
}

// TestArrayFileSameAsLines checks that the records of the array file,
// written as JSON lines, give the same events apart from Source.
func TestArrayFileSameAsLines(t *testing.T) {
	data := readFile(t, "testdata/system-log-array.json")
	arrayResult := parseData(t, "array.json", data)

	var lines bytes.Buffer
	in := source.Input{Reader: bytes.NewReader(data), Name: "array.json"}
	err := jsonrecords.Read(context.Background(), in, &result{}, func(_ int, raw []byte) error {
		if err := json.Compact(&lines, raw); err != nil {
			return err
		}
		return lines.WriteByte('\n')
	})
	if err != nil {
		t.Fatal(err)
	}
	lineResult := parseData(t, "lines.jsonl", lines.Bytes())

	if len(arrayResult.events) != len(lineResult.events) {
		t.Fatalf("array gives %d events, lines give %d", len(arrayResult.events), len(lineResult.events))
	}
	for i := range arrayResult.events {
		a, l := arrayResult.events[i], lineResult.events[i]
		a.Source, l.Source = "", ""
		checkEvents(t, []audit.Event{a}, l)
	}
}

// TestDetectSharedData checks that Detect recognises the two Okta sample
// logs and none of the other formats' samples.
func TestDetectSharedData(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(shareddata.Dir(t), "*"))
	if err != nil {
		t.Fatal(err)
	}
	found := checkDetect(t, paths, func(path string) bool {
		return strings.HasPrefix(filepath.Base(path), "okta-")
	})
	if found != 2 {
		t.Errorf("Detect recognised %d sample logs, want the 2 Okta ones", found)
	}
}

// TestDetectTestdata checks that Detect recognises this package's testdata
// and none of the other importers' testdata.
func TestDetectTestdata(t *testing.T) {
	own, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	others, err := filepath.Glob("../*/testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range others {
		if !strings.HasPrefix(p, "../okta/") {
			paths = append(paths, p)
		}
	}
	paths = append(paths, own...)
	found := checkDetect(t, paths, func(path string) bool { return strings.HasPrefix(path, "testdata/") })
	if found != 4 {
		t.Errorf("Detect recognised %d testdata files, want the 4 of this package", found)
	}
}

// checkDetect runs Detect on the first 64 KiB of each regular file in
// paths, other than Markdown, and fails tb where the result differs from
// want. It returns how many files Detect recognised.
func checkDetect(tb testing.TB, paths []string, want func(path string) bool) int {
	tb.Helper()
	found := 0
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || strings.HasSuffix(path, ".md") {
			continue
		}
		sample := readFile(tb, path)
		if len(sample) > 64<<10 {
			sample = sample[:64<<10]
		}
		got := Detect(sample)
		if got {
			found++
		}
		if got != want(path) {
			tb.Errorf("Detect(%s) = %v, want %v", path, got, want(path))
		}
	}
	return found
}
