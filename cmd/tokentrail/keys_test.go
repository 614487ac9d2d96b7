package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// newKeyStore returns the path of a new, empty store.
func newKeyStore(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "server.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// authenticate checks secret against the store at db, as the server does.
func authenticate(tb testing.TB, db, secret string) (apikey.Key, error) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	return apikey.NewManager(st, apikey.Config{}).Authenticate(context.Background(), secret)
}

var printedSecret = regexp.MustCompile(`^tt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}\n$`)

func TestKeysCreate(t *testing.T) {
	db := newKeyStore(t)

	stdout, stderr, err := run(t, "", "--db", db, "keys", "create", "--name", "payments-api", "--role", "read", "--role", "ingest")
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	match := printedSecret.FindStringSubmatch(stdout)
	if match == nil {
		t.Fatalf("keys create stdout = %d bytes, want only the key on one line", len(stdout))
	}
	for _, want := range []string{"created API key " + match[1] + " (payments-api) with roles ingest,read", "shown only now"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("keys create stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, strings.TrimSpace(stdout)) {
		t.Errorf("keys create printed the key on stderr too, want it once")
	}

	k, err := authenticate(t, db, strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("Authenticate(printed key) = %v", err)
	}
	if k.ID != match[1] || !k.Can(apikey.RoleIngest) || !k.Can(apikey.RoleRead) || k.Can(apikey.RoleAdmin) {
		t.Errorf("printed key authenticates as %+v, want %s with ingest and read", k, match[1])
	}

	list, _, err := run(t, "", "--db", db, "keys", "list")
	if err != nil {
		t.Fatalf("keys list: %v", err)
	}
	if strings.Contains(list, strings.TrimSpace(stdout)[16:]) {
		t.Errorf("keys list prints the key's secret part:\n%s", list)
	}
}

func TestKeysCreateRejectsBadFlags(t *testing.T) {
	db := newKeyStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"--role", "read"}, "missing --name"},
		{"no role", []string{"--name", "ci"}, "missing --role"},
		{"unknown role", []string{"--name", "ci", "--role", "read,write"}, `invalid --role: apikey: unknown role "write": want ingest, read, revoke or admin`},
		{"long name", []string{"--name", strings.Repeat("n", 65), "--role", "read"}, "want at most 64"},
		{"newline in name", []string{"--name", "ci\nadmin", "--role", "read"}, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := run(t, "", append([]string{"--db", db, "keys", "create"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("keys create %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
			if stdout != "" {
				t.Errorf("keys create %v printed %q, want nothing", tt.args, stdout)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "new.db")
	stdout, stderr, err := run(t, "", "--db", missing, "keys", "create", "--name", "ci", "--role", "read")
	if err != nil || !strings.Contains(stderr, "created the store "+missing) {
		t.Errorf("keys create on a missing store = %q, %v; want a note that it created the store", stderr, err)
	}
	if _, err := authenticate(t, missing, strings.TrimSpace(stdout)); err != nil {
		t.Errorf("Authenticate(key created with a new store) = %v", err)
	}
	for _, args := range [][]string{{"keys", "list"}, {"keys", "revoke", "0123456789ab"}, {"access-log"}} {
		missing := filepath.Join(t.TempDir(), "typo.db")
		_, _, err := run(t, "", append([]string{"--db", missing}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "no store at "+missing) {
			t.Errorf("%v on a missing store = %v, want an error naming it", args, err)
		}
	}
}

func TestKeysListAndRevoke(t *testing.T) {
	db := newKeyStore(t)
	if stdout, _, err := run(t, "", "--db", db, "keys", "list"); err != nil || !strings.Contains(stdout, "no API key: create one") {
		t.Errorf("keys list on a new store = %q, %v; want a hint to create one", stdout, err)
	}
	secret, _, err := run(t, "", "--db", db, "keys", "create", "--name", "oncall", "--role", "admin")
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	id := printedSecret.FindStringSubmatch(secret + "\n")[1]
	if _, _, err := run(t, "", "--db", db, "keys", "create", "--name", "ci", "--role", "ingest"); err != nil {
		t.Fatal(err)
	}

	stdout, _, err := run(t, "", "--db", db, "keys", "revoke", id)
	if err != nil {
		t.Fatalf("keys revoke: %v", err)
	}
	if want := "revoked API key " + id + " (oncall) at "; !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "within 1s") {
		t.Errorf("keys revoke = %q, want %q... and the bound of 1s", stdout, want)
	}
	if _, err := authenticate(t, db, secret); !errors.Is(err, apikey.ErrRevokedKey) {
		t.Errorf("Authenticate after keys revoke = %v, want ErrRevokedKey", err)
	}

	stdout, _, err = run(t, "", "--db", db, "keys", "revoke", id)
	if err != nil || !strings.Contains(stdout, "was revoked already") {
		t.Errorf("keys revoke a second time = %q, %v; want a note that it was revoked already", stdout, err)
	}
	if _, _, err := run(t, "", "--db", db, "keys", "revoke", "0123456789ab"); err == nil || !strings.Contains(err.Error(), `no API key has ID "0123456789ab"`) {
		t.Errorf("keys revoke of an unknown ID = %v, want an error naming it", err)
	}
	_, _, err = run(t, "", "--db", db, "keys", "revoke", secret)
	if err == nil || !strings.Contains(err.Error(), "looks like a whole API key") {
		t.Errorf("keys revoke of a whole key = %v, want an error asking for the ID", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("keys revoke of a whole key echoes the key in its error")
	}

	stdout, _, err = run(t, "", "--db", db, "keys", "list")
	if err != nil {
		t.Fatalf("keys list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("keys list = %q, want a header and two keys", stdout)
	}
	if !strings.Contains(lines[1], "oncall") || !strings.Contains(lines[1], "admin") || !strings.Contains(lines[1], "revoked 20") {
		t.Errorf("keys list first row = %q, want oncall, admin, revoked", lines[1])
	}
	if !strings.Contains(lines[2], "ci") || !strings.Contains(lines[2], "ingest") || !strings.HasSuffix(lines[2], "valid") {
		t.Errorf("keys list second row = %q, want ci, ingest, valid", lines[2])
	}

	stdout, _, err = run(t, "", "--db", db, "keys", "list", "--json")
	if err != nil {
		t.Fatalf("keys list --json: %v", err)
	}
	var listed struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(stdout), &listed); err != nil {
		t.Fatalf("keys list --json is not JSON: %v\n%s", err, stdout)
	}
	if len(listed.Keys) != 2 || listed.Keys[0]["id"] != id || listed.Keys[0]["revoked_at"] == nil || listed.Keys[1]["revoked_at"] != nil {
		t.Errorf("keys list --json = %s, want %s revoked first, then a valid key without revoked_at", stdout, id)
	}
	if roles, _ := listed.Keys[1]["roles"].([]any); len(roles) != 1 || roles[0] != "ingest" {
		t.Errorf("keys list --json roles of ci = %v, want [ingest]", listed.Keys[1]["roles"])
	}
}

func TestAccessLog(t *testing.T) {
	db := newKeyStore(t)
	if stdout, _, err := run(t, "", "--db", db, "access-log"); err != nil || !strings.Contains(stdout, "no access recorded") {
		t.Errorf("access-log on a new store = %q, %v; want a note that none is recorded", stdout, err)
	}

	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for i, a := range []apikey.Access{
		{Time: t0, KeyID: "aaaaaaaaaaaa", KeyName: "oncall", Action: "token.report", Target: "jti-1", RemoteIP: netip.MustParseAddr("192.0.2.10")},
		{Time: t0.Add(time.Minute), KeyID: "bbbbbbbbbbbb", KeyName: "soc-bot", Action: "incident.analyze", Target: "alice"},
		{Time: t0.Add(2 * time.Minute), KeyID: "aaaaaaaaaaaa", KeyName: "oncall", Action: "subject.tokens", Target: "ali\nce"},
		{Time: t0.Add(-time.Minute), KeyID: "aaaaaaaaaaaa", KeyName: "oncall", Action: "token.report", Target: strings.Repeat("ab", 32)},
	} {
		if err := st.AppendAccess(context.Background(), a); err != nil {
			t.Fatalf("AppendAccess %d: %v", i, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := run(t, "", "--db", db, "access-log")
	if err != nil {
		t.Fatalf("access-log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("access-log = %q, want a header and 4 rows", stdout)
	}
	for i, want := range []string{`ali\nce`, "soc-bot", "192.0.2.10"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("access-log row %d = %q, want it to contain %q (newest first)", i+1, lines[i+1], want)
		}
	}
	if stderr != "" {
		t.Errorf("access-log stderr = %q, want nothing below the limit", stderr)
	}

	stdout, stderr, err = run(t, "", "--db", db, "access-log", "--key", "aaaaaaaaaaaa", "--limit", "1", "--json")
	if err != nil {
		t.Fatalf("access-log --json: %v", err)
	}
	var got struct {
		Accesses []apikey.Access `json:"accesses"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("access-log --json is not JSON: %v\n%s", err, stdout)
	}
	if len(got.Accesses) != 1 || got.Accesses[0].Action != "subject.tokens" || !got.Accesses[0].Time.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("access-log --key --limit 1 --json = %+v, want the newest access of the key", got.Accesses)
	}
	if !strings.Contains(stderr, "showing the newest 1 accesses") {
		t.Errorf("access-log at its limit stderr = %q, want a note about --limit", stderr)
	}

	stdout, _, err = run(t, "", "--db", db, "access-log", "--target", "alice", "--since", "2026-11-20T09:00:30Z", "--until", "2026-11-20T09:01:30Z")
	if err != nil || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, "incident.analyze") {
		t.Errorf("access-log --target --since --until = %q, %v; want the one access of alice in the range", stdout, err)
	}
	stdout, _, err = run(t, "", "--db", db, "access-log", "--target", strings.Repeat("AB", 32))
	if err != nil || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, strings.Repeat("ab", 32)) {
		t.Errorf("access-log --target with an uppercase fingerprint = %q, %v; want the one access of its lowercase form", stdout, err)
	}
	stdout, _, err = run(t, "", "--db", db, "access-log", "--target", "bob")
	if err != nil || !strings.Contains(stdout, "no access matches the filters") {
		t.Errorf("access-log --target bob = %q, %v; want a note that none matches", stdout, err)
	}

	for _, bad := range [][]string{{"--limit", "-1"}, {"--since", "yesterday"}} {
		if _, _, err := run(t, "", append([]string{"--db", db, "access-log"}, bad...)...); err == nil || !strings.Contains(err.Error(), "invalid "+bad[0]) {
			t.Errorf("access-log %v = %v, want an error naming %s", bad, err, bad[0])
		}
	}
}
