package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres/pgtest"
)

// send sends a request with the key and a JSON body, and returns the
// status and the response body.
func send(t *testing.T, method, url, secret string, body any) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, reply
}

// TestServeOnPostgres runs serve on a PostgreSQL schema of its own over
// loopback: it imports the demo data, ingests events, serves the same token
// report as the CLI on the same --db, revokes a token and serves the
// revocation feed, and keeps all of it for the next start.
func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	f := serveTestFlags(dsn)
	f.demo = true
	url, stderr, stop := startServe(t, f, true)
	m := adminSecret.FindStringSubmatch(stderr.String())
	if m == nil {
		stop()
		t.Fatalf("serve printed no admin key:\n%s", stderr)
	}
	secret := m[1]
	if !strings.Contains(stderr.String(), "importing the demo data set") {
		t.Errorf("serve --demo on PostgreSQL did not import the demo data:\n%s", stderr)
	}

	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	events := []audit.Event{
		{ID: "pg-1", Time: at, Kind: audit.KindIssued, TokenID: "pg-tok", Subject: "pg-alice", ExpiresAt: at.Add(2 * time.Hour)},
		{ID: "pg-2", Time: at.Add(time.Minute), Kind: audit.KindUsed, TokenID: "pg-tok", Subject: "pg-alice", Path: "/orders"},
		{ID: "pg-3", Time: at.Add(2 * time.Minute), Kind: audit.KindUsed, TokenID: "pg-tok", Subject: "pg-alice", Path: "/orders/7"},
	}
	status, reply := send(t, http.MethodPost, url+"/api/v1/events", secret, events)
	if status != http.StatusOK || !strings.Contains(string(reply), `"accepted":3`) {
		t.Fatalf("POST /api/v1/events = %d %s, want 200 with 3 accepted", status, reply)
	}
	status, reply = send(t, http.MethodPost, url+"/api/v1/events", secret, events)
	if status != http.StatusOK || !strings.Contains(string(reply), `"duplicates":3`) {
		t.Errorf("POST /api/v1/events again = %d %s, want 200 with 3 duplicates", status, reply)
	}

	var report struct {
		Usage struct {
			Total int `json:"total"`
		} `json:"usage"`
	}
	getJSON(t, url+"/api/v1/tokens/pg-tok", secret, &report)
	if report.Usage.Total != 2 {
		t.Errorf("GET /api/v1/tokens/pg-tok usage total = %d, want 2", report.Usage.Total)
	}
	story, err := loadDemoStory()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/tokens/"+story.Token, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	printed, _, err := run(t, "", "--db", dsn, "investigate", "--json", story.Token)
	if err != nil {
		t.Fatalf("investigate --db %s: %v", dsn, err)
	}
	generated := regexp.MustCompile(`"generated_at": "[^"]*"`)
	if a, b := generated.ReplaceAllString(string(served), ""), generated.ReplaceAllString(printed, ""); a != b {
		t.Errorf("GET /api/v1/tokens/%s differs from investigate --json on the same database:\nserver:\n%s\nCLI:\n%s", story.Token, a, b)
	}

	status, reply = send(t, http.MethodPost, url+"/api/v1/revocations", secret,
		map[string]string{"scope": "token", "target": "pg-tok", "reason": "laptop stolen"})
	if status != http.StatusCreated {
		t.Fatalf("POST /api/v1/revocations = %d %s, want 201", status, reply)
	}
	var feed struct {
		Revocations []audit.Event `json:"revocations"`
		Next        int64         `json:"next"`
	}
	getJSON(t, url+"/api/v1/revocations?after=0", secret, &feed)
	revoked := false
	for _, e := range feed.Revocations {
		revoked = revoked || e.TokenID == "pg-tok"
	}
	if !revoked || feed.Next < 1 {
		t.Errorf("GET /api/v1/revocations = %+v, want the revocation of pg-tok and a next position", feed)
	}

	if err := stop(); err != nil {
		t.Fatalf("serve stopped with %v", err)
	}

	// A second start finds the admin key, the events and the revocation.
	_, stderr, stop = startServe(t, f, true)
	if err := stop(); err != nil {
		t.Fatalf("second serve stopped with %v", err)
	}
	if adminSecret.MatchString(stderr.String()) {
		t.Errorf("second start printed a new admin key, want the stored one kept:\n%s", stderr)
	}
	db, err := openStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found, err := db.Events(context.Background(), store.Query{TokenID: "pg-tok"})
	if err != nil || len(found) != 4 || found[3].Kind != audit.KindRevoked {
		t.Errorf("events of pg-tok after restart = %d, %v; want the 3 ingested and the revocation", len(found), err)
	}
}

func TestOpenStoreRejectsPasswordInURL(t *testing.T) {
	const password = "s3cret-of-the-test"
	for _, db := range []string{
		"postgres://tokentrail:" + password + "@127.0.0.1:5432/trail",
		"postgresql://tokentrail@127.0.0.1:5432/trail?password=" + password + "&sslmode=disable",
		"POSTGRES://tokentrail:" + password + "@127.0.0.1:5432/trail",
		"postgres://tokentrail@127.0.0.1:5432/trail?sslmode=require&sslpassword=" + password,
	} {
		s, err := openStore(context.Background(), db)
		if err == nil {
			s.Close()
			t.Fatalf("openStore(URL with password) error = nil, want one")
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("openStore(URL with password) error = %q, which shows the password", err)
		}
		if !strings.Contains(err.Error(), "PGPASSWORD") {
			t.Errorf("openStore(URL with password) error = %q, want it to name PGPASSWORD", err)
		}
	}
}

// TestStoreNamesRejectedBeforeOpening checks that a store name that is
// neither a file nor a postgres:// URL is refused before anything is
// created, without repeating the value, which may hold a password.
func TestStoreNamesRejectedBeforeOpening(t *testing.T) {
	const password = "s3cret-of-the-test"
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, db, want string
	}{
		{"key=value string", "host=127.0.0.1 user=tokentrail password=" + password + " dbname=trail", "key=value connection string"},
		{"mistyped scheme", "postgress://tokentrail:" + password + "@127.0.0.1/trail", `unknown store URL scheme "postgress"`},
		{"other scheme", "mysql://tokentrail@127.0.0.1/trail", `unknown store URL scheme "mysql"`},
		{"scheme without slashes", "postgres:tokentrail:" + password + "@127.0.0.1/trail", "key=value connection string"},
		{"unreadable URL", "postgres://tokentrail:se#" + password + "@127.0.0.1/trail", "cannot be read as a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{{"--db", tt.db, "anomalies"}, {"--db", tt.db, "keys", "create", "--name", "a", "--role", "read"}} {
				_, stderr, err := run(t, "", args...)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("tokentrail %s = %v, want an error containing %q", args[2], err, tt.want)
				}
				if strings.Contains(fmt.Sprint(err)+stderr, password) {
					t.Errorf("tokentrail %s printed the password: %v %s", args[2], err, stderr)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files created: %v, want none", entries)
			}
		})
	}
}

// TestCommandsOnPostgres runs the commands that write a store, and one
// that reads it, with --db naming a PostgreSQL schema.
func TestCommandsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)

	_, stderr, err := run(t, "", "--db", dsn, "keys", "create", "--name", "payments-api", "--role", "ingest")
	if err != nil {
		t.Fatalf("keys create --db %s: %v", dsn, err)
	}
	if strings.Contains(stderr, "created the store") {
		t.Errorf("keys create on PostgreSQL said it created a store file:\n%s", stderr)
	}
	list, _, err := run(t, "", "--db", dsn, "keys", "list")
	if err != nil || !strings.Contains(list, "payments-api") {
		t.Errorf("keys list --db %s = %q, %v; want the key payments-api", dsn, list, err)
	}

	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	_, _, err = run(t, "", "--db", dsn, "revoke", "--jti", "jti-pg", "--actor", "oncall", "--reason", "leaked in a CI log", "--at", at.Format(time.RFC3339))
	if err != nil {
		t.Fatalf("revoke --db %s: %v", dsn, err)
	}
	out, _, err := run(t, "", "--db", dsn, "investigate", "--json", "jti-pg")
	if err != nil {
		t.Fatalf("investigate --db %s: %v", dsn, err)
	}
	if !strings.Contains(out, `"status": "revoked"`) {
		t.Errorf("investigate jti-pg after revoke = %s, want status revoked", out)
	}
}
