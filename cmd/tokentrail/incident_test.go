package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
)

// The incident fixture: alice's access token is replayed from
// 198.51.100.77 by a script while she uses it from her office, and the
// script then uses bob's token too.
const (
	aliceToken    = "tok-alice-1"
	aliceLater    = "tok-alice-2"
	bobToken      = "tok-bob-1"
	attackerIP    = "198.51.100.77"
	attackerNet   = "198.51.100.0/24"
	incidentAt    = "2026-11-20T10:01:00Z"
	incidentMap   = "jti=jti,sub=sub,ip=ip,time=ts,ua=ua,method=method,path=path,status=status,kind=kind"
	officeAgent   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	attackerAgent = "python-requests/2.31.0"
)

// incidentLine returns one gateway record of a use at 2026-11-20 clock.
func incidentLine(tok, sub, ip, agent, clock, path string) string {
	return fmt.Sprintf(`{"ts":"2026-11-20T%sZ","kind":"used","jti":%q,"sub":%q,"ip":%q,"ua":%q,"method":"GET","path":%q,"status":200}`,
		clock, tok, sub, ip, agent, path) + "\n"
}

// issuedLine returns one record of a sign-in that issued tok at 2026-11-20
// clock. The analysis takes the network of a sign-in as the subject's own.
func issuedLine(tok, sub, ip, clock string) string {
	return fmt.Sprintf(`{"ts":"2026-11-20T%sZ","kind":"issued","jti":%q,"sub":%q,"ip":%q}`, clock, tok, sub, ip) + "\n"
}

// incidentStore imports the fixture, and the extra records after it, into
// a new SQLite file and returns its path.
func incidentStore(tb testing.TB, extra ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	var log strings.Builder
	for _, l := range append([]string{
		issuedLine(aliceToken, "alice", "203.0.113.10", "09:59:00"),
		issuedLine(bobToken, "bob", "192.0.2.20", "09:30:00"),
		incidentLine(aliceToken, "alice", "203.0.113.10", officeAgent, "10:00:00", "/api/orders"),
		incidentLine(aliceToken, "alice", attackerIP, attackerAgent, "10:00:10", "/api/export?page=1"),
		incidentLine(aliceToken, "alice", "203.0.113.10", officeAgent, "10:00:20", "/api/orders"),
		incidentLine(aliceToken, "alice", attackerIP, attackerAgent, "10:00:30", "/api/export?page=2"),
		incidentLine(aliceToken, "alice", "203.0.113.10", officeAgent, "10:00:40", "/api/profile"),
		incidentLine(aliceToken, "alice", attackerIP, attackerAgent, "10:00:50", "/api/export/<script>alert(1)</script>"),
		incidentLine(bobToken, "bob", attackerIP, attackerAgent, "10:01:30", "/api/export?page=3"),
		incidentLine(aliceLater, "alice", "203.0.113.10", officeAgent, "11:00:00", "/api/orders"),
	}, extra...) {
		log.WriteString(l)
	}
	return importLog(tb, dir, log.String())
}

// importLog imports gateway records into a new SQLite file in dir and
// returns its path.
func importLog(tb testing.TB, dir, log string) string {
	tb.Helper()
	path := writeFile(tb, dir, "gateway.jsonl", log)
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(tb, "", "--db", db, "import", "--format", "jsonl", "--map", incidentMap, path); err != nil {
		tb.Fatalf("import: %v", err)
	}
	return db
}

// incidentOutput runs tokentrail incident on alice's incident.
func incidentOutput(tb testing.TB, db string, args ...string) string {
	tb.Helper()
	stdout, _, err := run(tb, "", append([]string{"--db", db, "incident", "--subject", "alice", "--at", incidentAt, "--window", "2h"}, args...)...)
	if err != nil {
		tb.Fatalf("incident %s: %v", strings.Join(args, " "), err)
	}
	return stdout
}

func TestIncidentText(t *testing.T) {
	db := incidentStore(t)
	// Through the environment, so that the plan's commands carry no --db.
	t.Setenv("TOKENTRAIL_DB", db)
	stdout, _, err := run(t, "", "incident", "--subject", "alice", "--at", "2026-11-20 10:01:00Z", "--window", "2h")
	if err != nil {
		t.Fatalf("incident: %v", err)
	}

	for _, want := range []string{
		"Incident of alice at 2026-11-20 10:01:00Z",
		"suspicious tokens    " + aliceToken + " (",
		"suspicious networks  " + attackerNet + ": " + attackerIP,
		"other subjects       bob (tokens " + bobToken + ")",
		"\n     tokentrail revoke --jti " + aliceToken + " --actor incident-response --reason ",
		"\n     tokentrail revoke --jti " + bobToken + " ",
		"\n     iptables -I INPUT -s " + attackerNet + " -j DROP\n",
		"concurrent_use",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("incident text lacks %q:\n%s", want, stdout)
		}
	}

	// The summary and the plan come before the timeline.
	summary, plan, timeline := strings.Index(stdout, "\nSummary\n"), strings.Index(stdout, "\nPlan ("), strings.Index(stdout, "\nTimeline (")
	if summary < 0 || plan < summary || timeline < plan {
		t.Errorf("sections at summary %d, plan %d, timeline %d: want them in that order", summary, plan, timeline)
	}
}

func TestIncidentTextCutsTimeline(t *testing.T) {
	db := incidentStore(t)

	stdout := incidentOutput(t, db, "--max-timeline", "3")
	if !strings.Contains(stdout, "NOTE         the timeline lists 3 of the") {
		t.Errorf("incident --max-timeline 3 lacks the note of the cut:\n%s", stdout)
	}
	if !strings.Contains(stdout, "Timeline (3 events)") {
		t.Errorf("incident --max-timeline 3 does not list 3 events:\n%s", stdout)
	}
}

func TestIncidentTextKeepsLongTokenIDs(t *testing.T) {
	const long = "auth0:90020211103055356921223355678901234567" // 44 characters, as Auth0 ids run
	db := incidentStore(t, incidentLine(long, "alice", "203.0.113.10", officeAgent, "10:00:05", "/api/orders"))

	out := incidentOutput(t, db)

	if !strings.Contains(out, long) {
		t.Errorf("text report does not hold the whole token id %s, which a responder copies into investigate:\n%s", long, out)
	}
}

func TestIncidentJSONFlag(t *testing.T) {
	db := incidentStore(t)

	flag := incidentOutput(t, db, "--json")
	format := incidentOutput(t, db, "--format", "json")

	// The reports differ only in generated_at, which is the time of the run.
	strip := regexp.MustCompile(`"generated_at":\s*"[^"]*"`)
	if strip.ReplaceAllString(flag, "") != strip.ReplaceAllString(format, "") {
		t.Errorf("incident --json differs from --format json:\n%s\n%s", flag, format)
	}
}

func TestIncidentJSON(t *testing.T) {
	db := incidentStore(t)

	var r forensics.IncidentReport
	if err := json.Unmarshal([]byte(incidentOutput(t, db, "--format", "json")), &r); err != nil {
		t.Fatalf("incident --format json does not decode: %v", err)
	}
	if r.Subject != "alice" {
		t.Errorf("subject = %q, want alice", r.Subject)
	}
	if len(r.Suspicious.Networks) != 1 || r.Suspicious.Networks[0].Network != attackerNet {
		t.Errorf("suspicious networks = %+v, want only %s", r.Suspicious.Networks, attackerNet)
	}
	if len(r.Plan) == 0 || !strings.Contains(r.Plan[0].Command, attackerNet) {
		t.Errorf("plan = %+v, want blocking %s first", r.Plan, attackerNet)
	}
	if len(r.Timeline) != 9 {
		t.Errorf("timeline has %d events, want the 9 of alice's tokens and the attacker's network", len(r.Timeline))
	}
}

func TestIncidentMarkdown(t *testing.T) {
	db := incidentStore(t)

	stdout := incidentOutput(t, db, "--format", "markdown")
	for _, want := range []string{
		"# Incident of alice at 2026-11-20 10:01:00Z",
		"## Plan",
		"   ```sh\n   tokentrail --db " + db + " revoke --jti " + aliceToken,
		"## Timeline (9 events)",
		"| time | kind | token |",
		`\<script\>alert(1)\</script\>`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("incident markdown lacks %q:\n%s", want, stdout)
		}
	}
}

func TestIncidentHTML(t *testing.T) {
	db := incidentStore(t)
	out := filepath.Join(t.TempDir(), "incident.html")

	stdout := incidentOutput(t, db, "--format", "html", "--out", out)
	if !strings.Contains(stdout, "wrote the html report of \"alice\" to "+out) {
		t.Errorf("incident --out printed %q", stdout)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse the HTML report: %v", err)
	}

	var (
		svgs, circles int
		kinds         = map[string]int{}
		style, text   strings.Builder
	)
	var walk func(n *html.Node, inSVG bool)
	walk = func(n *html.Node, inSVG bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed":
				t.Errorf("the report has a <%s> element: it must be self-contained and run no script", n.Data)
			case "svg":
				if hasClass(n, "timeline") {
					svgs++
					inSVG = true
				}
			case "circle":
				if inSVG {
					circles++
					for _, class := range []string{"k-used", "k-issued", "marked"} {
						if hasClass(n, class) {
							kinds[class]++
						}
					}
				}
			case "style":
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					style.WriteString(c.Data)
				}
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href") &&
					(strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//")) {
					t.Errorf("<%s %s=%q> fetches from the network", n.Data, a.Key, a.Val)
				}
			}
		}
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inSVG)
		}
	}
	walk(doc, false)

	if svgs != 1 || circles != 9 {
		t.Errorf("timeline charts = %d with %d events drawn, want 1 with 9", svgs, circles)
	}
	if kinds["k-used"] != 8 || kinds["k-issued"] != 1 || kinds["marked"] != 3 {
		t.Errorf("chart draws %d uses, %d issuances and %d anomaly marks, want 8, 1 and 3", kinds["k-used"], kinds["k-issued"], kinds["marked"])
	}
	css := style.String()
	for _, want := range []string{"@media print", "thead { display: table-header-group; }", "break-before: page"} {
		if !strings.Contains(css, want) {
			t.Errorf("the style lacks %q", want)
		}
	}
	if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
		t.Error("the style loads a resource")
	}
	for _, want := range []string{"tokentrail --db " + db + " revoke --jti " + aliceToken, "/api/export/<script>alert(1)</script>"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report's text lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<script>alert")) {
		t.Error("a path from the log reaches the page unescaped")
	}
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+class+" ") {
			return true
		}
	}
	return false
}

// TestIncidentNeverPrintsRawToken imports a use whose path carries a raw
// JWT and checks that no format prints it.
func TestIncidentNeverPrintsRawToken(t *testing.T) {
	dir := t.TempDir()
	raw := signToken(t, "tok-leaked", "alice")
	log := issuedLine(aliceToken, "alice", "203.0.113.10", "09:59:00") +
		incidentLine(aliceToken, "alice", "203.0.113.10", officeAgent, "10:00:00", "/api/orders") +
		incidentLine(aliceToken, "alice", attackerIP, attackerAgent, "10:00:10", "/api/export?access_token="+raw) +
		incidentLine(aliceToken, "alice", "203.0.113.10", officeAgent, "10:00:20", "/api/orders") +
		incidentLine(aliceToken, "alice", attackerIP, attackerAgent, "10:00:30", "/api/export")
	path := writeFile(t, dir, "gateway.jsonl", log)
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", incidentMap, path); err != nil {
		t.Fatalf("import: %v", err)
	}

	for _, format := range incidentFormats {
		stdout := incidentOutput(t, db, "--format", format)
		if strings.Contains(stdout, raw) || strings.Contains(stdout, strings.SplitN(raw, ".", 3)[2]) {
			t.Errorf("incident --format %s prints the raw token", format)
		}
		if !strings.Contains(stdout, "/api/export") {
			t.Errorf("incident --format %s lacks the request that carried the token", format)
		}
	}
}

func TestIncidentFlagErrors(t *testing.T) {
	db := incidentStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subject", []string{"--at", incidentAt}, "missing --subject"},
		{"no time", []string{"--subject", "alice"}, "missing --at"},
		{"bad time", []string{"--subject", "alice", "--at", "yesterday"}, `invalid --at "yesterday"`},
		{"bad format", []string{"--subject", "alice", "--at", incidentAt, "--format", "pdf"}, `invalid --format "pdf": want one of text, json, markdown, html`},
		{"bad window", []string{"--subject", "alice", "--at", incidentAt, "--window", "-1h"}, `invalid --window "-1h"`},
		{"window in days", []string{"--subject", "alice", "--at", incidentAt, "--window", "1d"}, `invalid --window "1d": want a duration in hours, minutes or seconds, such as 24h, 36h or 90m`},
		{"zero window", []string{"--subject", "alice", "--at", incidentAt, "--window", "0s"}, `invalid --window "0s"`},
		{"bad max", []string{"--subject", "alice", "--at", incidentAt, "--max-timeline", "-1"}, "invalid --max-timeline -1"},
		{"json and another format", []string{"--subject", "alice", "--at", incidentAt, "--json", "--format", "html"}, "--json and --format html ask for two formats"},
		{"unknown subject", []string{"--subject", "carol", "--at", incidentAt}, `no event of subject "carol"`},
		{"outside window", []string{"--subject", "alice", "--at", "2026-11-25T10:00:00Z", "--window", "1h"}, "widen --window or move --at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "", append([]string{"--db", db, "incident"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("incident %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}

	_, _, err := run(t, "", "--db", filepath.Join(t.TempDir(), "missing.db"), "incident", "--subject", "alice", "--at", incidentAt)
	if err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Errorf("incident on a missing store = %v, want no store", err)
	}

	folder := filepath.Join(t.TempDir(), "reports")
	_, _, err = run(t, "", "--db", db, "incident", "--subject", "alice", "--at", incidentAt, "--out", filepath.Join(folder, "incident.md"))
	if err == nil || !strings.Contains(err.Error(), "folder "+folder+" does not exist") || !strings.Contains(err.Error(), "mkdir -p "+folder) {
		t.Errorf("incident --out into a missing folder = %v, want an error naming %s and how to create it", err, folder)
	}
}

// TestIncidentPlanRunsWithRevoke parses every tokentrail command of the
// demo's and the fixture's plans with the flags of the real revoke
// command, then runs it, so that the plan cannot drift from the CLI.
func TestIncidentPlanRunsWithRevoke(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", demo); err != nil {
		t.Fatalf("demo: %v", err)
	}
	stores := []struct {
		db, subject, at string
	}{
		{demo, "b61e6ba5-3682-4dd6-b804-69b84b2d451c", "2026-11-20T09:30:00Z"},
		{incidentStore(t), "alice", incidentAt},
	}

	flagsSeen := map[string]bool{}
	for _, s := range stores {
		stdout, _, err := run(t, "", "--db", s.db, "incident", "--subject", s.subject, "--at", s.at, "--format", "json")
		if err != nil {
			t.Fatalf("incident: %v", err)
		}
		var r forensics.IncidentReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}

		for _, step := range r.Plan {
			if !strings.HasPrefix(step.Command, "tokentrail ") {
				continue
			}
			args, err := shellWords(step.Command)
			if err != nil {
				t.Fatalf("step %d: %v", step.Rank, err)
			}
			args = args[1:]

			root := newRootCommand(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			cmd, rest, err := root.Find(args)
			if err != nil || cmd.Name() != "revoke" {
				t.Fatalf("step %d: %q finds command %v (%v), want revoke", step.Rank, step.Command, cmd.Name(), err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("step %d: revoke rejects the flags of %q: %v", step.Rank, step.Command, err)
				continue
			}
			for _, a := range rest {
				if strings.HasPrefix(a, "--") {
					flagsSeen[a] = true
				}
			}

			out, _, err := run(t, "", args...)
			if err != nil {
				t.Errorf("step %d: %q fails: %v", step.Rank, step.Command, err)
				continue
			}
			if !strings.Contains(out, "revoked ") {
				t.Errorf("step %d: %q printed %q, want a revocation recorded or found", step.Rank, step.Command, out)
			}
		}
	}

	// The two plans between them use every revoke flag that forensics
	// writes, so a renamed flag cannot go unnoticed.
	for _, flag := range []string{"--jti", "--family", "--subject", "--issued-before", "--session", "--actor", "--reason"} {
		if !flagsSeen[flag] {
			t.Errorf("no planned command uses %s, so the test does not check it", flag)
		}
	}
}

// TestIncidentPlanQuotesControlCharacters imports an incident of a subject
// whose name contains a line break, a tab and an escape sequence. It
// pastes the subject command of each of the four formats into bash. The
// words bash reads must name that subject, and running them revokes it.
func TestIncidentPlanQuotesControlCharacters(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed, so the pasted commands cannot be checked against a shell")
	}
	const subject = "ali\nce\t\x1b[31m"
	dir := t.TempDir()
	var log strings.Builder
	for _, l := range []string{
		issuedLine(aliceToken, subject, "203.0.113.10", "09:59:00"),
		incidentLine(aliceToken, subject, "203.0.113.10", officeAgent, "10:00:00", "/api/orders"),
		incidentLine(aliceToken, subject, attackerIP, attackerAgent, "10:00:10", "/api/export?page=1"),
		incidentLine(aliceToken, subject, "203.0.113.10", officeAgent, "10:00:20", "/api/orders"),
		incidentLine(aliceToken, subject, attackerIP, attackerAgent, "10:00:30", "/api/export?page=2"),
	} {
		// %q in the line helpers writes \x1b, which JSON spells \u001b.
		log.WriteString(strings.ReplaceAll(l, `\x1b`, `\u001b`))
	}
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", incidentMap, writeFile(t, dir, "gateway.jsonl", log.String())); err != nil {
		t.Fatalf("import: %v", err)
	}

	commands := map[string]string{}
	for _, format := range []string{"text", "markdown", "json", "html"} {
		stdout, _, err := run(t, "", "--db", db, "incident", "--subject", subject, "--at", incidentAt, "--window", "2h", "--format", format)
		if err != nil {
			t.Fatalf("incident --format %s: %v", format, err)
		}
		if format == "json" {
			var r forensics.IncidentReport
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Plan {
				if s.Action == forensics.ActionRevokeSubject {
					commands[format] = s.Command
				}
			}
			continue
		}
		if format == "html" {
			doc, err := html.Parse(strings.NewReader(stdout))
			if err != nil {
				t.Fatalf("parse the HTML report: %v", err)
			}
			var walk func(n *html.Node)
			walk = func(n *html.Node) {
				if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "code" &&
					strings.HasPrefix(n.Data, "tokentrail ") && strings.Contains(n.Data, " --subject ") {
					commands[format] = n.Data
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			continue
		}
		for _, line := range strings.Split(stdout, "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "tokentrail ") && strings.Contains(line, " --subject ") {
				commands[format] = line
			}
		}
	}

	for format, line := range commands {
		// A shell function in place of the CLI prints the words that bash
		// passes, each ended by NUL.
		out, err := exec.Command(bash, "-c", `tokentrail() { printf '%s\0' "$@"; }; `+line).Output()
		if err != nil {
			t.Fatalf("%s: bash runs %q: %v", format, line, err)
		}
		args := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		i := slices.Index(args, "--subject")
		if i < 0 || i+1 == len(args) || args[i+1] != subject {
			t.Errorf("%s: bash reads %q as %q, want --subject %q", format, line, args, subject)
			continue
		}
		if format != "text" {
			continue
		}
		if _, _, err := run(t, "", args...); err != nil {
			t.Fatalf("revoke with the words of %q: %v", line, err)
		}
		if got := storedRevocations(t, db, store.Query{Subject: subject}); len(got) != 1 {
			t.Errorf("stored revocations of %q after the pasted command = %d, want 1", subject, len(got))
		}
	}
	if len(commands) != 4 {
		t.Errorf("subject commands found in %d formats (%v), want text, markdown, json and html", len(commands), commands)
	}
}

// shellWords splits a command line as a POSIX shell does for the quoting
// that the plan uses: single quotes and backslashes.
func shellWords(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case quoted:
			if r == '\'' {
				quoted = false
			} else {
				word.WriteRune(r)
			}
		case r == '\'':
			quoted, inWord = true, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quoted || escaped {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

func TestParseReportTime(t *testing.T) {
	want := time.Date(2026, 11, 20, 10, 1, 0, 0, time.UTC)
	for _, value := range []string{"2026-11-20T10:01:00Z", "2026-11-20T11:01:00+01:00", "2026-11-20 10:01:00Z", " 2026-11-20T10:01:00Z "} {
		got, err := parseReportTime("--at", value)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseReportTime(%q) = %v, %v, want %v", value, got, err, want)
		}
	}
	if _, err := parseReportTime("--at", "2026-11-20"); err == nil {
		t.Error("parseReportTime accepts a date without time")
	}
}

// TestIncidentTextTimeLayout checks that the text report gives every time
// as investigate does, in its sentences too. Only the plan's commands keep
// RFC 3339, the form the revoke flags are documented with.
func TestIncidentTextTimeLayout(t *testing.T) {
	db := incidentStore(t)
	stdout := incidentOutput(t, db)

	rfc3339 := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "tokentrail ") {
			continue
		}
		if rfc3339.MatchString(line) {
			t.Errorf("incident text line gives an RFC 3339 time, want 2006-01-02 15:04:05Z:\n%s", line)
		}
	}
	if !strings.Contains(stdout, "is not revoked at 2026-11-20 12:01:00Z") {
		t.Errorf("incident text lacks the exposure's end as reports print times:\n%s", stdout)
	}
}

// TestIncidentTextMarkRoles checks that the owner's use before the user
// agent changed reads as earlier evidence of user_agent_change, and that
// the attacker's use that completed it carries the rule alone.
func TestIncidentTextMarkRoles(t *testing.T) {
	db := incidentStore(t)
	stdout := incidentOutput(t, db)

	row := func(clock string) string {
		t.Helper()
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "2026-11-20 "+clock+"Z  used") {
				return line
			}
		}
		t.Fatalf("incident text has no timeline row at %s:\n%s", clock, stdout)
		return ""
	}
	if owner := row("10:00:00"); !strings.HasSuffix(owner, "user_agent_change (earlier evidence), concurrent_use (earlier evidence)") {
		t.Errorf("owner's first use row = %q, want it marked as earlier evidence only", owner)
	}
	if attacker := row("10:00:10"); !strings.HasSuffix(attacker, "  user_agent_change, concurrent_use (earlier evidence)") {
		t.Errorf("attacker's first use row = %q, want user_agent_change as the completing event", attacker)
	}
}

// TestIncidentUsesAfterRevocation revokes alice's token at 10:00:35, 15
// seconds before the attacker's last accepted use of it, within the delay
// in which services learn of a revocation. Every format counts that use.
func TestIncidentUsesAfterRevocation(t *testing.T) {
	db := incidentStore(t, `{"ts":"2026-11-20T10:00:35Z","kind":"revoked","jti":"`+aliceToken+`","sub":"alice"}`+"\n")

	want := "1 use accepted after the revocation at 2026-11-20 10:00:35Z, last at 2026-11-20 10:00:50Z"
	for _, format := range []string{"text", "markdown", "html"} {
		if stdout := incidentOutput(t, db, "--format", format); !strings.Contains(stdout, want) {
			t.Errorf("incident --format %s lacks %q:\n%s", format, want, stdout)
		}
	}

	var r forensics.IncidentReport
	if err := json.Unmarshal([]byte(incidentOutput(t, db, "--format", "json")), &r); err != nil {
		t.Fatalf("incident --format json does not decode: %v", err)
	}
	last := time.Date(2026, 11, 20, 10, 0, 50, 0, time.UTC)
	i := slices.IndexFunc(r.Impact.Tokens, func(tok forensics.ImpactedToken) bool { return tok.TokenID == aliceToken })
	if i < 0 {
		t.Fatalf("impact.tokens = %+v, want %s", r.Impact.Tokens, aliceToken)
	}
	if tok := r.Impact.Tokens[i]; tok.UsesAfterRevocation != 1 || !tok.LastAfterRevocation.Equal(last) {
		t.Errorf("%s uses after revocation = %d, last %s, want 1, last %s", aliceToken, tok.UsesAfterRevocation, tok.LastAfterRevocation, last)
	}
	if x := r.Impact.Exposure; x.UsesAfterRevocation != 1 || !x.LastAfterRevocation.Equal(last) {
		t.Errorf("exposure uses after revocation = %d, last %s, want 1, last %s", x.UsesAfterRevocation, x.LastAfterRevocation, last)
	}
}

// TestIncidentMarkdownEscapesTables names the subject, a token and a path
// with the characters that Markdown reads in a table: every row must keep
// its columns, and every such character in a cell must be escaped.
func TestIncidentMarkdownEscapesTables(t *testing.T) {
	const subject, token, path = "svc_batch|x", "tok_a|`1`", "/api/a_b|*c*"
	db := importLog(t, t.TempDir(), issuedLine(token, subject, "203.0.113.10", "09:59:00")+
		incidentLine(token, subject, "203.0.113.10", officeAgent, "10:00:00", path)+
		incidentLine(token, subject, attackerIP, attackerAgent, "10:00:10", path)+
		incidentLine(token, subject, "203.0.113.10", officeAgent, "10:00:20", path))
	stdout, _, err := run(t, "", "--db", db, "incident", "--subject", subject, "--at", incidentAt, "--window", "2h", "--format", "markdown")
	if err != nil {
		t.Fatalf("incident --format markdown: %v", err)
	}

	unescaped := regexp.MustCompile("(^|[^\\\\])[|_*`]")
	columns := 0
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "|") {
			columns = 0
			continue
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, ""), "|")
		if columns == 0 {
			columns = len(cells) // the header row
			continue
		}
		if len(cells) != columns {
			t.Errorf("table row has %d cells, want %d as its header:\n%s", len(cells)-2, columns-2, line)
		}
		for _, cell := range cells[1 : len(cells)-1] {
			if !strings.HasPrefix(cell, "---") && unescaped.MatchString(cell) {
				t.Errorf("table cell %q has an unescaped Markdown character", cell)
			}
		}
	}
	if !strings.Contains(stdout, `| tok\_a\|\`+"`"+`1\`+"`"+` |`) {
		t.Errorf("incident markdown lacks the escaped token:\n%s", stdout)
	}
}

// TestIncidentMarkdownLinksNothing names the subject and a path with text
// that a renderer with extended autolinks would make a link of: each must
// sit in a code span, where nothing becomes a link, and the table rows must
// keep their columns.
func TestIncidentMarkdownLinksNothing(t *testing.T) {
	const subject, path = "https://evil.example/login|x", "/go/www.evil.example"
	db := importLog(t, t.TempDir(), issuedLine("tok-1", subject, "203.0.113.10", "09:59:00")+
		incidentLine("tok-1", subject, "203.0.113.10", officeAgent, "10:00:00", path)+
		incidentLine("tok-1", subject, attackerIP, attackerAgent, "10:00:10", path)+
		incidentLine("tok-1", subject, "203.0.113.10", officeAgent, "10:00:20", path))
	stdout, _, err := run(t, "", "--db", db, "incident", "--subject", subject, "--at", incidentAt, "--window", "2h", "--format", "markdown")
	if err != nil {
		t.Fatalf("incident --format markdown: %v", err)
	}

	codeSpan := regexp.MustCompile("(`+)[^`].*?[^`]?`+")
	inBlock := false
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock // a code block links nothing either
			continue
		}
		if rest := codeSpan.ReplaceAllString(line, ""); !inBlock && strings.Contains(rest, "evil.example") {
			t.Errorf("line names evil.example outside a code span: %s", line)
		}
	}
	if !strings.Contains(stdout, "# Incident of `https://evil.example/login|x` at") || !strings.Contains(stdout, "tokens of `\"https://evil.example/login|x\"` were issued") {
		t.Errorf("incident markdown lacks the subject in a code span in its heading and its note:\n%s", stdout)
	}
	if !strings.Contains(stdout, "GET `/go/www.evil.example`") {
		t.Errorf("incident markdown lacks the request in a code span:\n%s", stdout)
	}
}

// TestIncidentLeavesOutEmptySections analyzes carol, whose one use raises
// no anomaly: no format prints a Patterns or an Anomalies section.
func TestIncidentLeavesOutEmptySections(t *testing.T) {
	db := importLog(t, t.TempDir(), incidentLine("tok-carol-1", "carol", "192.0.2.30", officeAgent, "10:00:00", "/api/orders"))

	empty := map[string][]string{
		"text":     {"\nPatterns\n", "\nAnomalies\n"},
		"markdown": {"## Patterns", "## Anomalies"},
		"html":     {`id="patterns"`, `id="anomalies"`},
	}
	for format, headings := range empty {
		stdout, _, err := run(t, "", "--db", db, "incident", "--subject", "carol", "--at", incidentAt, "--window", "2h", "--format", format)
		if err != nil {
			t.Fatalf("incident --format %s: %v", format, err)
		}
		for _, heading := range headings {
			if strings.Contains(stdout, heading) {
				t.Errorf("incident --format %s prints the empty section %q:\n%s", format, heading, stdout)
			}
		}
		if !strings.Contains(strings.ToLower(stdout), "timeline (1 event") {
			t.Errorf("incident --format %s lacks the timeline of carol's one event", format)
		}
	}
}

// TestIncidentOutSaysReplaced writes the report twice to one file: the
// first run prints nothing on standard error, and the second prints that
// it replaced the file.
func TestIncidentOutSaysReplaced(t *testing.T) {
	db := incidentStore(t)
	out := filepath.Join(t.TempDir(), "incident.md")
	args := []string{"--db", db, "incident", "--subject", "alice", "--at", incidentAt, "--window", "2h", "--format", "markdown", "--out", out}

	_, stderr, err := run(t, "", args...)
	if err != nil {
		t.Fatalf("first incident --out: %v", err)
	}
	if strings.Contains(stderr, "replaced") {
		t.Errorf("first incident --out stderr = %q, want no replaced line for a new file", stderr)
	}

	_, stderr, err = run(t, "", args...)
	if err != nil {
		t.Fatalf("second incident --out: %v", err)
	}
	if want := "replaced " + out + ", which existed"; !strings.Contains(stderr, want) {
		t.Errorf("second incident --out stderr = %q, want %q", stderr, want)
	}
}

// The incident timeline marks the uses a high_frequency anomaly cites:
// the use that passed max_uses and the uses before it in the window.
func TestIncidentMarksHighFrequencyBurst(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	for i := range 5 {
		log.WriteString(incidentLine(aliceToken, "alice", attackerIP, attackerAgent, fmt.Sprintf("10:00:%02d", i), "/api/export"))
	}
	path := writeFile(t, dir, "gateway.jsonl", log.String())
	rules := writeFile(t, dir, "rules.yaml", "rules:\n  high_frequency:\n    max_uses: 3\n    window: 1m\n")
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--rules", rules, "--format", "jsonl", "--map", incidentMap, path); err != nil {
		t.Fatalf("import: %v", err)
	}

	var r forensics.IncidentReport
	if err := json.Unmarshal([]byte(incidentOutput(t, db, "--format", "json")), &r); err != nil {
		t.Fatalf("incident --format json does not decode: %v", err)
	}
	var marked []string
	for _, e := range r.Timeline {
		for _, m := range e.Anomalies {
			if m.Rule == "high_frequency" {
				marked = append(marked, e.Time.Format("15:04:05")+" "+m.Role)
			}
		}
	}
	want := []string{"10:00:00 earlier", "10:00:01 earlier", "10:00:02 earlier", "10:00:03 completing"}
	if !slices.Equal(marked, want) {
		t.Errorf("timeline events marked by high_frequency = %q, want %q", marked, want)
	}
}
