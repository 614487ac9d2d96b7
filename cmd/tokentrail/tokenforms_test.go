package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// TestImportStoresNoWrappedOrSpacedToken imports a JSON lines file whose
// paths, user agents and reasons carry one token in each form that a log
// writes it: wrapped in base64, escaped in a URL, or with white space
// around its dots. The SQLite file and its WAL must hold no trace of the
// token, and every form must be replaced by the fingerprint of the compact
// token, as a plain sighting is.
func TestImportStoresNoWrappedOrSpacedToken(t *testing.T) {
	token := signToken(t, "tok-forms", "alice")
	parts := strings.Split(token, ".")
	std := base64.StdEncoding.EncodeToString([]byte(token))
	// The prefix is 18 bytes, so the token starts a 3-byte group.
	inJSON := base64.StdEncoding.EncodeToString([]byte(`{"access_token": "` + token + `", "note": "???>>>"}`))
	forms := []struct{ name, text string }{
		{"plain", token},
		{"base64", std},
		{"base64url unpadded", base64.RawURLEncoding.EncodeToString([]byte(token))},
		{"base64 URL-encoded", url.QueryEscape(std)},
		{"base64 MIME lines", mimeLines(std)},
		{"base64 of JSON, slashes escaped", strings.ReplaceAll(inJSON, "/", `\/`)},
		{"spaces around dots", parts[0] + " . " + parts[1] + " . " + parts[2]},
		{"copied across lines", parts[0] + " .\n " + parts[1] + " .\n " + parts[2]},
		{"URL-encoded dots", strings.ReplaceAll(token, ".", "%2E")},
	}

	var lines strings.Builder
	for i, form := range forms {
		line, err := json.Marshal(map[string]any{
			"id": fmt.Sprint(i), "t": "2026-11-20T09:00:00Z", "kind": "used", "jti": "tok-forms",
			"path": "/api/orders?session=" + form.text, "ua": "curl " + form.text, "reason": form.name + ": " + form.text,
		})
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(append(line, '\n'))
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "gateway.jsonl", lines.String())
	db := filepath.Join(dir, "events.db")

	stdout, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", "id=id,time=t,kind=kind,jti=jti,path=path,ua=ua,reason=reason", path)

	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if got, want := summaryLine(t, stdout, path), fmt.Sprintf("imported %d,", len(forms)); !strings.Contains(got, want) {
		t.Fatalf("summary = %q, want %q", got, want)
	}

	// The signature is the part that only the token holder has. Each
	// wrapped form contains the middle of the token's base64 unchanged.
	traces := map[string]string{"the signature": parts[2], "the token's base64": std[len(std)/2 : len(std)/2+16]}
	files, err := filepath.Glob(db + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("find the database files: %v, %d found", err, len(files))
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for name, trace := range traces {
			if bytes.Contains(data, []byte(trace)) {
				t.Errorf("%s contains %s", filepath.Base(file), name)
			}
		}
	}

	marker := "[jwt sha256:" + audit.Fingerprint(token)[:16] + "]"
	report := investigateJSON(t, db, "tok-forms")
	if len(report.Events) != len(forms) {
		t.Fatalf("investigate found %d events, want %d", len(report.Events), len(forms))
	}
	for _, e := range report.Events {
		// The values are not printed: they may hold the token.
		for field, value := range map[string]string{"Path": e.Path, "UserAgent": e.UserAgent, "Reason": e.Reason} {
			if !strings.Contains(value, marker) {
				t.Errorf("event from %s: %s lacks %s", e.Source, field, marker)
			}
		}
	}
}

// mimeLines breaks base64 into lines of 76 characters, as MIME does.
func mimeLines(s string) string {
	var lines []string
	for len(s) > 76 {
		lines = append(lines, s[:76])
		s = s[76:]
	}
	return strings.Join(append(lines, s), "\r\n")
}
