package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/internal/shareddata"
	"github.com/tokentrail/tokentrail/source/keycloak"
)

// run executes the CLI in-process and returns what it printed.
func run(tb testing.TB, stdin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(strings.NewReader(stdin), &out, &errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// summaryLine returns the summary that import printed for a file.
func summaryLine(tb testing.TB, stdout, file string) string {
	tb.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, file+" (") {
			return line
		}
	}
	tb.Fatalf("no summary for %s in output:\n%s", file, stdout)
	return ""
}

func TestImportSampleFiles(t *testing.T) {
	dir := shareddata.Dir(t)
	tests := []struct {
		file string
		want string
	}{
		{"keycloak-events-elastic-integrations-jboss.log", "(keycloak, recognised): read 30, imported 8, duplicate 0, skipped 23, rejected 0"},
		{"keycloak-events-datadog-samples.log", "(keycloak, recognised): read 4, imported 0, duplicate 0, skipped 1, rejected 3"},
		{"keycloak-events-datadog-kc-json-console.jsonl", "(keycloak, recognised): read 1, imported 2, duplicate 0, skipped 0, rejected 0"},
		{"keycloak-events-jsonlog-listener-readme.log", "(keycloak, recognised): read 7, imported 4, duplicate 0, skipped 4, rejected 0"},
		{"keycloak-events-sekoia-kc26-ecs-json.jsonl", "(keycloak, recognised): read 6, imported 0, duplicate 0, skipped 6, rejected 0"},
		{"k8s-audit-k3s-linkerd-jti-hori.jsonl", "(k8saudit, recognised): read 6, imported 4, duplicate 0, skipped 2, rejected 0"},
		{"k8s-audit-minikube-v1.32-bugurshik.jsonl", "(k8saudit, recognised): read 100, imported 12, duplicate 0, skipped 88, rejected 0"},
		{"k8s-audit-sekoia.jsonl", "(k8saudit, recognised): read 8, imported 1, duplicate 0, skipped 7, rejected 0"},
		{"okta-system-log-elastic-integrations.jsonl", "(okta, recognised): read 3, imported 3, duplicate 0, skipped 0, rejected 0"},
		{"okta-system-log-sekoia.jsonl", "(okta, recognised): read 10, imported 4, duplicate 0, skipped 6, rejected 0"},
		{"auth0-logs-elastic-integrations.jsonl", "(auth0, recognised): read 11, imported 8, duplicate 0, skipped 3, rejected 0"},
		{"entra-signin-logs-sekoia.jsonl", "(entra, recognised): read 8, imported 7, duplicate 0, skipped 1, rejected 0"},
		{"entra-graph-activity-logs-sekoia.jsonl", "(entra, recognised): read 3, imported 3, duplicate 0, skipped 0, rejected 0"},
	}
	db := filepath.Join(t.TempDir(), "events.db")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			stdout, _, err := run(t, "", "--db", db, "import", path)
			if strings.HasSuffix(tt.want, "rejected 0") && err != nil {
				t.Errorf("import error = %v, want none", err)
			}
			if got := summaryLine(t, stdout, path); got != path+" "+tt.want {
				t.Errorf("summary = %q, want %q", got, path+" "+tt.want)
			}

			// A second import finds every event stored already.
			stdout, _, _ = run(t, "", "--db", db, "import", path)
			if got := summaryLine(t, stdout, path); !strings.Contains(got, "imported 0,") {
				t.Errorf("second import: %q, want imported 0", got)
			}
		})
	}
}

func TestImportDataset(t *testing.T) {
	dir := shareddata.Dir(t)
	db := filepath.Join(t.TempDir(), "events.db")

	stdout, stderr, err := run(t, "", "--db", db, "import", dir)
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected for the unrecognised files", err)
	}
	if strings.Contains(stdout, "SOURCES.md (") {
		t.Errorf("SOURCES.md was imported as a log:\n%s", stdout)
	}
	if !strings.Contains(stderr, "SOURCES.md: format not recognised") {
		t.Errorf("stderr does not say SOURCES.md was not recognised:\n%s", stderr)
	}
	if !strings.Contains(stdout, "total: ") {
		t.Errorf("no total line:\n%s", stdout)
	}
}

func TestImportBadInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	good := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/x/pods","verb":"list","user":{"username":"system:serviceaccount:x:y","extra":{"authentication.kubernetes.io/credential-id":["JTI=11111111-2222-4333-8444-555555555555"]}},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.32","responseStatus":{"code":200},"requestReceivedTimestamp":"2025-07-13T10:28:00.000000Z","stageTimestamp":"2025-07-13T10:28:00.010000Z"}`
	truncated := good[:len(good)/2]
	secondGood := strings.ReplaceAll(good, `"a1"`, `"a2"`)
	invalidUTF8 := strings.ReplaceAll(good, `"a1"`, `"a3"`)
	invalidUTF8 = strings.Replace(invalidUTF8, "kubectl", "kube\xffctl", 1)
	long := `{"kind":"Event","auditID":"` + strings.Repeat("x", 10<<20) + `"}`

	audit := writeFile(t, dir, "audit.jsonl", good+"\n"+truncated+"\n"+invalidUTF8+"\n"+long+"\n"+secondGood+"\n")
	empty := writeFile(t, dir, "empty.log", "")
	unknown := writeFile(t, dir, "notes.txt", "just some notes\nnot a log\n")
	missing := filepath.Join(dir, "missing.log")

	stdout, stderr, err := run(t, "", "--db", db, "import", "--format", "k8saudit", audit)
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected", err)
	}
	for _, want := range []string{audit + ":2: ", audit + ":3: ", audit + ":4: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := summaryLine(t, stdout, audit); !strings.Contains(got, "imported 2,") || !strings.Contains(got, "rejected 3") {
		t.Errorf("summary = %q, want the two good records imported and three rejected", got)
	}

	_, stderr, err = run(t, "", "--db", db, "import", empty, unknown, missing)
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected", err)
	}
	for _, want := range []string{
		empty + ": empty file",
		unknown + ": format not recognised",
		missing + ": no such file or directory",
		"3 of 3 files could not be imported",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestImportFlagErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "x.jsonl", "{}\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"import", "--format", "syslog", file}, `unknown --format "syslog"`},
		{"jsonl without mapping", []string{"import", "--format", "jsonl", file}, "needs a field mapping"},
		{"mapping for keycloak", []string{"import", "--format", "keycloak", "--map", "jti=a,time=b", file}, "apply to --format jsonl only"},
		{"bad date", []string{"import", "--date", "20-11-2026", file}, `invalid --date "20-11-2026"`},
		{"bad zone", []string{"import", "--time-zone", "Mars/Olympus", file}, `invalid --time-zone "Mars/Olympus"`},
		{"bad mapping", []string{"import", "--map", "jti", file}, "invalid --map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--db", filepath.Join(dir, "events.db")}, tt.args...)
			_, _, err := run(t, "", args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestImportGzip(t *testing.T) {
	src, err := os.ReadFile("../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(src)
	zw.Close()
	dir := t.TempDir()
	path := writeFile(t, dir, "audit.log.gz", buf.String())

	stdout, _, err := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", path)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if got := summaryLine(t, stdout, path); !strings.HasPrefix(got, path+" (k8saudit, recognised, gzip): read 6, imported 4,") {
		t.Errorf("summary = %q", got)
	}
}

func TestDemoTellsTheStory(t *testing.T) {
	stdout, _, err := run(t, "", "demo")
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	for _, want := range []string{
		"keycloak-events.log", "gateway-access.jsonl",
		"REVOKED: revoked at 2026-11-20 09:41:15Z",
		"minted from  169a73bf-4c83-4f3b-8c0a-70a7a84567f9",
		"198.51.100.77 (31)",
		"countries    NL (70), SG (31)",
		"python-requests/2.31.0",
		"/api/v1/customers/export (",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

// TestDemoKeepStoresAnomalies checks that the kept store holds the
// anomalies that the demo's import found, as a store filled by import does.
func TestDemoKeepStoresAnomalies(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	stdout, _, err := run(t, "", "demo", "--keep", db)
	if err != nil {
		t.Fatalf("demo --keep: %v", err)
	}
	if want := "anomalies: 2 found, 2 new (tokentrail --db " + db + " anomalies lists them)"; !strings.Contains(stdout, want) {
		t.Errorf("demo --keep output lacks %q", want)
	}

	stdout, _, err = run(t, "", "--db", db, "anomalies", "--json")
	if err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	var list []audit.Anomaly
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("anomalies --json is not a list of anomalies: %v\n%s", err, stdout)
	}
	var rules []string
	for _, a := range list {
		rules = append(rules, a.Rule)
	}
	slices.Sort(rules)
	if want := []string{"concurrent_use", "user_agent_change"}; !slices.Equal(rules, want) {
		t.Errorf("stored anomalies = %v, want %v", rules, want)
	}

	stdout, _, err = run(t, "", "--db", db, "patterns")
	if err != nil || !strings.HasPrefix(stdout, "2 anomalies:") {
		t.Errorf("patterns = %q, %v; want it to count the 2 stored anomalies", stdout, err)
	}
}

func TestDemoTemporaryStoreNamesNoCommand(t *testing.T) {
	stdout, _, err := run(t, "", "demo")
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if !strings.Contains(stdout, "anomalies: 2 found, 2 new\n") {
		t.Errorf("demo output lacks %q, a line that names no command because the store is deleted", "anomalies: 2 found, 2 new")
	}
}

// TestDemoLocatesGatewayRecords checks the locations that the demo's web UI
// draws on its map: every gateway record has one, each address always the
// same, and the attacker's address lies in another country than the users'.
func TestDemoLocatesGatewayRecords(t *testing.T) {
	ctx := context.Background()
	db, err := openStore(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	story, err := loadDemoStory()
	if err != nil {
		t.Fatal(err)
	}

	places := map[netip.Addr]audit.Geo{}
	gateway := 0
	err = importDemo(ctx, db, io.Discard, func(e audit.Event) {
		if !strings.HasPrefix(e.Source, "gateway-access.jsonl:") {
			return
		}
		gateway++
		if !e.Geo.HasCoordinates() || e.Geo.Country == "" || e.Geo.City == "" || e.Geo.AccuracyKM <= 0 {
			t.Errorf("event %s from %s has geo %+v, want a country, a city, coordinates and an accuracy", e.Source, e.IP, e.Geo)
			return
		}
		if seen, ok := places[e.IP]; ok && seen != e.Geo {
			t.Errorf("event %s places %s at %+v, but an earlier event at %+v", e.Source, e.IP, e.Geo, seen)
		}
		places[e.IP] = e.Geo
	})
	if err != nil {
		t.Fatalf("import demo data: %v", err)
	}
	if gateway == 0 {
		t.Fatal("the demo import passed on no gateway event, so the test checks nothing")
	}

	attacker, ok := places[netip.MustParseAddr(story.AttackerIP)]
	if !ok {
		t.Fatalf("no gateway event comes from the attacker's address %s", story.AttackerIP)
	}
	for ip, geo := range places {
		if ip.String() != story.AttackerIP && geo.Country == attacker.Country {
			t.Errorf("user address %s is in %s, the attacker's country; want it far from the attacker", ip, geo.Country)
		}
	}
}

func TestInvestigateWays(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", db); err != nil {
		t.Fatalf("demo: %v", err)
	}
	const jti = "807d2f89-3ece-4523-b752-77c66c5421f1"

	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, "", "--db", db, "investigate", jti, "--json")
	if err != nil {
		t.Fatalf("investigate --json: %v", err)
	}
	if after, err := os.ReadFile(db); err != nil || !bytes.Equal(before, after) {
		t.Errorf("investigate changed the store file (read error %v)", err)
	}
	var report forensics.TokenReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("investigate --json output is not a report: %v", err)
	}
	if report.TokenID != jti || report.Status != forensics.StatusRevoked || report.Usage.Total != 101 {
		t.Errorf("report = %s, %s, %d uses; want %s, revoked, 101", report.TokenID, report.Status, report.Usage.Total, jti)
	}

	// --at takes a time as the reports print it, as incident's does.
	stdout, _, err = run(t, "", "--db", db, "investigate", jti, "--json", "--at", "2026-11-20 09:30:00Z")
	if err != nil {
		t.Fatalf("investigate --at in the report layout: %v", err)
	}
	var at forensics.TokenReport
	if err := json.Unmarshal([]byte(stdout), &at); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC); !at.GeneratedAt.Equal(want) {
		t.Errorf("report time = %v, want %v", at.GeneratedAt, want)
	}
	// The replay by a script from another network, interleaved with the
	// office's own uses, is what the default rules must point at.
	var rules []string
	for _, a := range report.Anomalies {
		rules = append(rules, a.Rule)
	}
	for _, want := range []string{"concurrent_use", "user_agent_change"} {
		if !slices.Contains(rules, want) {
			t.Errorf("anomalies = %v, want %s among them", rules, want)
		}
	}

	// A raw token read from standard input is looked up by its jti and
	// never printed.
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": jti, "exp": time.Now().Unix()}).
		SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, raw+"\n", "--db", db, "investigate", "--token-file", "-")
	if err != nil {
		t.Fatalf("investigate --token-file -: %v", err)
	}
	if !strings.Contains(stdout, "Token "+jti) {
		t.Errorf("--token-file - did not find the token:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, raw) || strings.Contains(stdout+stderr, strings.Split(raw, ".")[1]) {
		t.Error("output contains the raw token")
	}

	tokenFile := writeFile(t, dir, "token.txt", "Bearer "+raw+"\n")
	if _, _, err := run(t, "", "--db", db, "investigate", "--token-file", tokenFile); err != nil {
		t.Errorf("investigate --token-file FILE: %v", err)
	}
}

func TestInvestigateErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", db); err != nil {
		t.Fatalf("demo: %v", err)
	}
	raw := "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"nothing named", "", []string{"investigate"}, "name the token one way"},
		{"two ways", "", []string{"investigate", "abc", "--fingerprint", strings.Repeat("a", 64)}, "name the token one way"},
		{"bad fingerprint", "", []string{"investigate", "--fingerprint", "xyz"}, `invalid --fingerprint "xyz"`},
		{"raw token argument", "", []string{"investigate", raw}, "looks like a raw JWT"},
		{"unknown jti", "", []string{"investigate", "no-such-token"}, `names jti "no-such-token"`},
		{"jti pasted with its key", "", []string{"investigate", "JTI=89720503-aaaa"}, `give the value alone ("89720503-aaaa")`},
		{"jti pasted as JSON", "", []string{"investigate", `"credential-id": "89720503-aaaa",`}, `give the value alone ("89720503-aaaa")`},
		{"empty stdin", "", []string{"investigate", "--token-file", "-"}, "standard input is empty"},
		{"two tokens", raw + "\n" + raw, []string{"investigate", "--token-file", "-"}, "more than one token"},
		{"missing token file", "", []string{"investigate", "--token-file", filepath.Join(dir, "nope")}, "open --token-file"},
		{"bad report time", "", []string{"investigate", "abc", "--at", "yesterday"}, `invalid --at "yesterday"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.stdin, append([]string{"--db", db}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), raw) {
				t.Errorf("error %q contains the raw token", err)
			}
		})
	}
}

func TestImportTruncatedGzipKeepsRecords(t *testing.T) {
	// The k8saudit file is read line by line. The Okta file goes through
	// the JSON record reader, and its compressed form is shorter than the
	// 64 KiB that recognition reads ahead.
	for _, name := range []string{"../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl", "../../source/okta/testdata/oauth-token-events.jsonl"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(src)
			zw.Close()
			dir := t.TempDir()
			// Cutting the trailer and the last bytes leaves whole records at
			// the start and a stream that ends too early.
			path := writeFile(t, dir, "cut.log.gz", buf.String()[:buf.Len()-200])

			stdout, stderr, err := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", path)
			if err == nil {
				t.Fatal("import of a truncated gzip file succeeded, want an error")
			}
			if !strings.Contains(stderr, "the file is truncated") {
				t.Errorf("stderr = %q, want it to say the file is truncated", stderr)
			}
			if got := summaryLine(t, stdout, path); strings.Contains(got, "imported 0,") {
				t.Errorf("summary = %q, want the records before the cut imported", got)
			}
		})
	}
}

func TestImportFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	target, err := filepath.Abs("../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "containers")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(logs, "audit.log")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "logs-link")
	if err := os.Symlink(logs, link); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", link, empty)
	if !errors.Is(err, errRejected) {
		t.Errorf("import error = %v, want errRejected for the empty folder", err)
	}
	if got := summaryLine(t, stdout, filepath.Join(link, "audit.log")); !strings.Contains(got, "imported 4,") {
		t.Errorf("summary = %q, want the linked file imported", got)
	}
	if !strings.Contains(stderr, empty+": no file to import") {
		t.Errorf("stderr = %q, want the empty folder named", stderr)
	}
}

func TestImportStandardInput(t *testing.T) {
	src, err := os.ReadFile("../../source/k8saudit/testdata/hori-k3s-linkerd.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, string(src), "--db", filepath.Join(t.TempDir(), "events.db"), "import", "-")
	if err != nil {
		t.Fatalf("import -: %v", err)
	}
	if got := summaryLine(t, stdout, "stdin"); !strings.Contains(got, "imported 4,") {
		t.Errorf("summary = %q, want 4 events from standard input", got)
	}
}

func TestInvestigateMissingStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.db")
	_, _, err := run(t, "", "--db", path, "investigate", "abc")
	if err == nil || !strings.Contains(err.Error(), "no store at "+path) {
		t.Errorf("error = %v, want no store at %s", err, path)
	}
	if _, statErr := os.Stat(path); statErr == nil {
		t.Errorf("investigate created %s", path)
	}
}

func TestErrorsNeverEchoTokens(t *testing.T) {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "x"}).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, stderr, _ := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", filepath.Join(dir, raw))
	if strings.Contains(stderr, strings.Split(raw, ".")[1]) {
		t.Errorf("import of a missing file named like a token printed it:\n%s", stderr)
	}
}

func TestImportVerboseListsSkipReasons(t *testing.T) {
	path := "../../source/keycloak/testdata/keycloak-events-elastic-integrations-jboss.log"
	stdout, _, err := run(t, "", "--db", filepath.Join(t.TempDir(), "events.db"), "import", "-v", path)
	if err != nil {
		t.Fatalf("import -v: %v", err)
	}
	if !strings.Contains(stdout, "  skipped ") {
		t.Errorf("import -v printed no skip reason:\n%s", stdout)
	}
}

// TestRecognitionIsUnambiguous checks that each sample log is recognised by
// exactly the format its name starts with, and by no other, so that the
// order in which import tries the formats does not matter.
func TestRecognitionIsUnambiguous(t *testing.T) {
	dir := shareddata.Dir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]string{
		"keycloak-": "keycloak", "k8s-audit-": "k8saudit", "okta-": "okta", "auth0-": "auth0", "entra-": "entra",
	}
	for _, entry := range entries {
		want := ""
		for prefix, format := range prefixes {
			if strings.HasPrefix(entry.Name(), prefix) {
				want = format
			}
		}
		t.Run(entry.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, entry.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sample := data[:min(len(data), 64<<10)]
			var got []string
			for _, f := range recognisable(keycloak.Options{}) {
				if f.Detect(sample) {
					got = append(got, f.Name)
				}
			}
			if want == "" && len(got) > 0 || want != "" && !slices.Equal(got, []string{want}) {
				t.Errorf("recognised as %v, want [%s]", got, want)
			}
		})
	}
}

func TestImportFormatAnyCase(t *testing.T) {
	path := "../../source/okta/testdata/oauth-token-events.jsonl"

	stdout, stderr, err := run(t, "", "--db", filepath.Join(t.TempDir(), "events.db"), "import", "--format", "Okta", path)

	if err != nil {
		t.Fatalf("import --format Okta: %v (stderr %q)", err, stderr)
	}
	if strings.Contains(stdout, "imported 0,") || strings.Contains(stderr, "do not look like") {
		t.Errorf("stdout = %q, stderr = %q, want the Okta events imported", stdout, stderr)
	}
}

func TestImportWarnsOnWrongFormat(t *testing.T) {
	dir := t.TempDir()
	path := "../../source/okta/testdata/oauth-token-events.jsonl"

	stdout, stderr, err := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", "--format", "keycloak", path)

	if err != nil {
		t.Fatalf("import error = %v, want none: nothing was rejected", err)
	}
	if !strings.Contains(stderr, "do not look like keycloak, but like okta (--format okta, or no --format)") {
		t.Errorf("stderr = %q, want a warning that the file looks like okta, not keycloak", stderr)
	}
	if !strings.Contains(stderr, "no token or session event") || !strings.Contains(stdout, "imported 0,") {
		t.Errorf("stdout = %q, stderr = %q, want nothing imported and a hint to run import -v", stdout, stderr)
	}
}

// TestImportCountsRecordsOfOneLineArrays imports sample logs rewritten as
// one JSON array (or Kubernetes EventList) on a single line, as API dumps
// often are. Every record counts as read, although all share line 1, and
// the events are those of the original file.
func TestImportCountsRecordsOfOneLineArrays(t *testing.T) {
	dir := shareddata.Dir(t)
	tests := []struct {
		file, want string
		list       bool
	}{
		{"okta-system-log-sekoia.jsonl", "read 10, imported 4, duplicate 0, skipped 6, rejected 0", false},
		{"auth0-logs-elastic-integrations.jsonl", "read 11, imported 8, duplicate 0, skipped 3, rejected 0", false},
		{"entra-signin-logs-sekoia.jsonl", "read 8, imported 7, duplicate 0, skipped 1, rejected 0", false},
		{"k8s-audit-minikube-v1.32-bugurshik.jsonl", "read 100, imported 12, duplicate 0, skipped 88, rejected 0", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var records []json.RawMessage
			for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
				records = append(records, json.RawMessage(line))
			}
			var value any = records
			if tt.list {
				value = map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": records}
			}
			oneLine, err := json.Marshal(value)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			path := writeFile(t, tmp, "one-line.json", string(oneLine))

			stdout, _, err := run(t, "", "--db", filepath.Join(tmp, "events.db"), "import", path)

			if err != nil {
				t.Errorf("import error = %v, want none", err)
			}
			if got := summaryLine(t, stdout, path); !strings.HasSuffix(got, tt.want) {
				t.Errorf("summary = %q, want it to end with %q", got, tt.want)
			}
		})
	}
}

func TestParseZoneTakesOffsets(t *testing.T) {
	at := time.Date(2024, 6, 13, 10, 0, 0, 0, time.UTC)
	for name, want := range map[string]int{"+05:30": 5*3600 + 1800, "-08:00": -8 * 3600, "UTC": 0, "Asia/Kolkata": 5*3600 + 1800} {
		loc, err := parseZone(name)
		if err != nil {
			t.Errorf("parseZone(%q) error = %v", name, err)
			continue
		}
		if _, offset := at.In(loc).Zone(); offset != want {
			t.Errorf("parseZone(%q) offset = %d s, want %d s", name, offset, want)
		}
	}
	if _, err := parseZone("+25:00"); err == nil {
		t.Errorf("parseZone(+25:00) = nil error, want one")
	}
}

func TestReportListsAtMostTwentyRejections(t *testing.T) {
	r := &forensics.TokenReport{TokenID: "t", Status: forensics.StatusUnknown, Type: "access"}
	for i := range 25 {
		r.Rejections = append(r.Rejections, forensics.Rejection{Time: time.Date(2026, 12, 4, 10, 0, i, 0, time.UTC), Reason: "revoked", Source: "gw.jsonl:" + strconv.Itoa(i+1)})
	}
	var out bytes.Buffer

	if err := writeReport(&out, r); err != nil {
		t.Fatal(err)
	}

	text := out.String()
	if !strings.Contains(text, "gw.jsonl:20]") || strings.Contains(text, "gw.jsonl:21]") {
		t.Errorf("report does not list exactly the first 20 rejections:\n%s", text)
	}
	if !strings.Contains(text, "5 more rejections") {
		t.Errorf("report does not count the 5 rejections left out:\n%s", text)
	}
}

// TestInvestigateWithRules runs the demo's token through the simple rules
// that issue-style configs express: any IP change within 5 minutes is high.
func TestInvestigateWithRules(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", db); err != nil {
		t.Fatalf("demo: %v", err)
	}
	rules := writeFile(t, dir, "rules.yaml", "rules:\n  rapid_ip_change:\n    max_networks: 1\n    window: 5m\n    severity: high\n")

	stdout, _, err := run(t, "", "--db", db, "investigate", "--json", "--rules", rules, "807d2f89-3ece-4523-b752-77c66c5421f1")
	if err != nil {
		t.Fatalf("investigate: %v", err)
	}

	var report forensics.TokenReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range report.Anomalies {
		if a.Rule == "rapid_ip_change" && a.Severity == audit.SeverityHigh && len(a.EventIDs) >= 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("anomalies = %+v, want a high rapid_ip_change with its events", report.Anomalies)
	}

	_, _, err = run(t, "", "--db", db, "investigate", "--rules", writeFile(t, dir, "bad.yaml", "rules:\n  rapid_ip_chnage: {}\n"), "807d2f89-3ece-4523-b752-77c66c5421f1")
	if err == nil || !strings.Contains(err.Error(), "invalid --rules") {
		t.Errorf("investigate with a misspelt rule: error = %v, want one naming --rules", err)
	}
}

// TestImportStoresAnomalies imports the demo's logs as a user would, with
// detection on, and reads the findings back with the anomalies command.
func TestImportStoresAnomalies(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	logs := []string{"demodata/keycloak-events.log", "--format", "jsonl", "--map-file", "demodata/gateway-map.yaml", "demodata/gateway-access.jsonl"}
	if _, _, err := run(t, "", "--db", db, "import", logs[0]); err != nil {
		t.Fatalf("import keycloak: %v", err)
	}

	stdout, _, err := run(t, "", append([]string{"--db", db, "import"}, logs[1:]...)...)
	if err != nil {
		t.Fatalf("import gateway: %v", err)
	}
	if !strings.Contains(stdout, "anomalies: 2 found, 2 new") {
		t.Errorf("import output = %q, want the two anomalies found and stored", stdout)
	}
	stdout, _, _ = run(t, "", append([]string{"--db", db, "import"}, logs[1:]...)...)
	if !strings.Contains(stdout, "anomalies: 2 found, 0 new") {
		t.Errorf("second import output = %q, want the anomalies found again and none new", stdout)
	}

	stdout, _, err = run(t, "", "--db", db, "anomalies", "--severity", "high", "--json")
	if err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	var list []audit.Anomaly
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("anomalies --json is not a list of anomalies: %v\n%s", err, stdout)
	}
	if len(list) != 1 || list[0].Rule != "concurrent_use" || len(list[0].EventIDs) != 3 {
		t.Errorf("high anomalies = %+v, want the one concurrent_use with its three events", list)
	}

	stdout, _, err = run(t, "", "--db", db, "anomalies", "--rule", "user_agent_change")
	if err != nil || !strings.Contains(stdout, "user_agent_change") || strings.Contains(stdout, "concurrent_use") {
		t.Errorf("anomalies --rule user_agent_change = %q, %v; want that rule only", stdout, err)
	}
	if _, _, err := run(t, "", "--db", db, "anomalies", "--severity", "urgent"); err == nil || !strings.Contains(err.Error(), "invalid --severity") {
		t.Errorf("anomalies --severity urgent: error = %v, want one naming the flag", err)
	}
}

func TestImportWithoutDetection(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")

	stdout, _, err := run(t, "", "--db", db, "import", "--no-detect", "--format", "jsonl", "--map-file", "demodata/gateway-map.yaml", "demodata/gateway-access.jsonl")

	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if strings.Contains(stdout, "anomalies:") {
		t.Errorf("import --no-detect output = %q, want no anomalies line", stdout)
	}
}
