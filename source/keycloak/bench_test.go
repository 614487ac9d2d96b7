package keycloak

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// defaultBenchRecords is the number of records of the generated log that
// BenchmarkParse reads; TOKENTRAIL_BENCH_RECORDS overrides it.
const defaultBenchRecords = 500_000

// benchRecords returns the size of the generated log, from
// TOKENTRAIL_BENCH_RECORDS when it is set.
func benchRecords(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("TOKENTRAIL_BENCH_RECORDS")
	if s == "" {
		return defaultBenchRecords
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("TOKENTRAIL_BENCH_RECORDS = %q, want a positive whole number", s)
	}
	return n
}

// countingHandler counts what Parse reports and keeps nothing.
type countingHandler struct{ events, skips, rejects int }

func (h *countingHandler) Event(audit.Event) error    { h.events++; return nil }
func (h *countingHandler) Skip(int, string)           { h.skips++ }
func (h *countingHandler) Reject(*source.RecordError) { h.rejects++ }

// BenchmarkParse reads a generated Keycloak log of benchRecords records, in
// the JBoss text form and in the JSON console form, each beside what a log
// shipper does with the same lines: a grok-style regular expression for the
// log prefix and one for the key=value pairs, after a JSON decoding into a
// map for the console form.
//
// The mix of records, out of 100: 30 CODE_TO_TOKEN (2 events each), 25
// REFRESH_TOKEN with rotation (3 events), 10 INTROSPECT_TOKEN (1 event) and
// 3 REFRESH_TOKEN_ERROR (1 event). Then 12 LOGIN, 3 LOGIN_ERROR and 5 LOGOUT
// without token ids make 1 session event each. The 2 admin events and 10
// lines of other loggers are skipped. That is 168 events per 100 records.
func BenchmarkParse(b *testing.B) {
	n := benchRecords(b)
	forms := []struct {
		name    string
		console bool
		grok    func(tb testing.TB, data []byte) int
	}{
		{name: "jboss_text", grok: grokText},
		{name: "json_console", console: true, grok: grokConsole},
	}
	for _, form := range forms {
		data, want := generateLog(n, form.console)
		b.Run(form.name+"/tokentrail", func(b *testing.B) {
			format := Format(Options{})
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var h countingHandler
			events, records := 0, 0
			for b.Loop() {
				h = countingHandler{}
				in := source.Input{Reader: bytes.NewReader(data), Name: "bench.log"}
				if err := format.Parse(context.Background(), in, &h); err != nil {
					b.Fatal(err)
				}
				events += h.events
				records += n
			}
			if h != want {
				b.Fatalf("events, skips, rejects = %+v, want %+v", h, want)
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(form.name+"/grok_regexp", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			records := 0
			for b.Loop() {
				records += form.grok(b, data)
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkParseSamples reads every sample file under testdata, repeated 100
// times into one input of about 1.5 MB (10,100 lines).
func BenchmarkParseSamples(b *testing.B) {
	var files bytes.Buffer
	for _, name := range sampleFiles {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			b.Fatal(err)
		}
		files.Write(data)
		if !bytes.HasSuffix(data, []byte("\n")) {
			files.WriteByte('\n')
		}
	}
	input := bytes.Repeat(files.Bytes(), 100)
	format := Format(Options{Date: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)})
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()

	var h countingHandler
	for b.Loop() {
		h = countingHandler{}
		in := source.Input{Reader: bytes.NewReader(input), Name: "bench.log"}
		if err := format.Parse(context.Background(), in, &h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(h.events), "events/op")
}

func BenchmarkParsePairs(b *testing.B) {
	msg := `type="REFRESH_TOKEN", realmId="f16e7899-3616-4c57-a8db-deab1da434c1", realmName="\"master\"", ` +
		`clientId="\"security=admin=console,test1\"", userId="15745079-6780-4b93-80d9-c0d3480885d3", ` +
		`sessionId="a6790922-e7c1-41c3-aade-c3f40d2fcf58", ipAddress="10.10.10.10", token_id="49532980-d06c-4de0-9e2a-94ccb86e6a0e", ` +
		`grant_type="refresh_token", refresh_token_type="Refresh", scope="openid email profile", refresh_token_id="e27fe0e6-af97-4f2e-acae-743731cafe26"`
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parsePairs(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// logGenerator writes the generated log. A fixed seed makes every run read
// the same bytes.
type logGenerator struct {
	rng   *rand.Rand
	buf   []byte
	msg   []byte
	at    time.Time
	users [][]byte // user ids, each with its session id
}

// generateLog returns n records of a Keycloak 24 or later log, with quoted
// key=value messages, as text lines or as JSON console records, and the
// counts that Parse reports for them.
func generateLog(n int, console bool) ([]byte, countingHandler) {
	g := &logGenerator{rng: rand.New(rand.NewPCG(7, 11)), at: time.Date(2024, 6, 13, 8, 0, 0, 0, time.UTC)}
	for range 2000 {
		g.users = append(g.users, []byte(g.uuid()+" "+g.uuid()))
	}
	g.buf = make([]byte, 0, n*600)
	var want countingHandler
	for i := range n {
		g.at = g.at.Add(time.Duration(g.rng.IntN(40)) * time.Millisecond)
		logger, level, msg, events := g.record(i % 100)
		if events == 0 {
			want.skips++
		}
		want.events += events
		if console {
			g.consoleLine(logger, level, msg)
		} else {
			g.textLine(logger, level, msg)
		}
	}
	return g.buf, want
}

// record returns the logger, level and message of record number k of 100,
// and the number of events Parse makes of it.
func (g *logGenerator) record(k int) (logger, level string, msg []byte, events int) {
	user := g.users[g.rng.IntN(len(g.users))]
	userID, sessionID := string(user[:36]), string(user[37:])
	m := g.msg[:0]
	pair := func(key, value string) {
		if len(m) > 0 {
			m = append(m, ", "...)
		}
		m = append(m, key...)
		m = append(m, `="`...)
		m = append(m, value...)
		m = append(m, '"')
	}
	head := func(typ string) {
		pair("type", typ)
		pair("realmId", "0b6a3c1e-7f7e-4d4c-9a53-2f0d3b7c9e11")
		pair("realmName", "shop")
		pair("clientId", []string{"orders-web", "orders-mobile", "billing-api"}[g.rng.IntN(3)])
		pair("userId", userID)
		pair("sessionId", sessionID)
		pair("ipAddress", g.ip())
	}

	level = "DEBUG"
	switch {
	case k < 30:
		events = 2
		head("CODE_TO_TOKEN")
		pair("token_id", g.uuid())
		pair("grant_type", "authorization_code")
		pair("refresh_token_type", "Refresh")
		pair("scope", "openid email profile")
		pair("refresh_token_id", g.uuid())
		pair("code_id", sessionID)
		pair("client_auth_method", "client-secret")
	case k < 55:
		events = 3
		head("REFRESH_TOKEN")
		pair("token_id", g.uuid())
		pair("grant_type", "refresh_token")
		pair("refresh_token_type", "Refresh")
		pair("access_token_expiration_time", "300")
		pair("updated_refresh_token_id", g.uuid())
		pair("scope", "openid email profile")
		pair("age_of_refresh_token", strconv.Itoa(g.rng.IntN(1800)))
		pair("refresh_token_id", g.uuid())
		pair("client_auth_method", "client-secret")
	case k < 65:
		events = 1
		head("INTROSPECT_TOKEN")
		pair("token_id", g.uuid())
		pair("client_auth_method", "client-secret")
	case k < 68:
		level, events = "WARN", 1
		head("REFRESH_TOKEN_ERROR")
		pair("error", "invalid_token")
		pair("grant_type", "refresh_token")
		pair("refresh_token_id", g.uuid())
		pair("client_auth_method", "client-secret")
	case k < 80:
		events = 1
		head("LOGIN")
		pair("auth_method", "openid-connect")
		pair("auth_type", "code")
		pair("response_type", "code")
		pair("redirect_uri", "https://shop.example.com/callback")
		pair("consent", "no_consent_required")
		pair("code_id", sessionID)
		pair("username", "user"+userID[:8]+"@example.com")
		pair("response_mode", "query")
		pair("authSessionParentId", sessionID)
		pair("authSessionTabId", "t5zOUo-tETQ")
	case k < 83:
		level, events = "WARN", 1
		head("LOGIN_ERROR")
		pair("error", "invalid_user_credentials")
		pair("auth_method", "openid-connect")
		pair("auth_type", "code")
		pair("redirect_uri", "https://shop.example.com/callback")
		pair("code_id", sessionID)
		pair("username", "user"+userID[:8]+"@example.com")
	case k < 88:
		events = 1
		head("LOGOUT")
		pair("redirect_uri", "https://shop.example.com/")
	case k < 90:
		pair("operationType", "UPDATE")
		pair("realmId", "0b6a3c1e-7f7e-4d4c-9a53-2f0d3b7c9e11")
		pair("realmName", "shop")
		pair("clientId", "security-admin-console")
		pair("userId", userID)
		pair("ipAddress", g.ip())
		pair("resourceType", "USER")
		pair("resourcePath", "users/"+userID)
	default:
		g.msg = append(m, "KC-SERVICES0009: Cache hit ratio 0."...)
		g.msg = strconv.AppendInt(g.msg, int64(g.rng.IntN(100)), 10)
		return "org.keycloak.services", "INFO", g.msg, 0
	}
	g.msg = m
	return eventsLogger, level, m, events
}

// ip returns a client address: IPv4 mostly, some IPv6 and some IPv4-mapped
// IPv6, all in documentation ranges.
func (g *logGenerator) ip() string {
	switch n := g.rng.IntN(10); {
	case n < 7:
		return "203.0.113." + strconv.Itoa(g.rng.IntN(256))
	case n < 9:
		return "2001:db8::" + strconv.FormatInt(int64(g.rng.IntN(65536)), 16)
	default:
		return "::ffff:198.51.100." + strconv.Itoa(g.rng.IntN(256))
	}
}

func (g *logGenerator) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *logGenerator) textLine(logger, level string, msg []byte) {
	g.buf = g.at.AppendFormat(g.buf, "2006-01-02 15:04:05,000")
	g.buf = append(g.buf, ' ')
	g.buf = append(g.buf, level...)
	g.buf = append(g.buf, "  ["...)
	g.buf = append(g.buf, logger...)
	g.buf = append(g.buf, "] (executor-thread-"...)
	g.buf = strconv.AppendInt(g.buf, int64(g.rng.IntN(64)), 10)
	g.buf = append(g.buf, ") "...)
	g.buf = append(g.buf, msg...)
	g.buf = append(g.buf, '\n')
}

func (g *logGenerator) consoleLine(logger, level string, msg []byte) {
	g.buf = append(g.buf, `{"timestamp":"`...)
	g.buf = g.at.In(time.FixedZone("", 2*60*60)).AppendFormat(g.buf, "2006-01-02T15:04:05.000000000Z07:00")
	g.buf = append(g.buf, `","sequence":`...)
	g.buf = strconv.AppendInt(g.buf, int64(len(g.buf)), 10)
	g.buf = append(g.buf, `,"loggerClassName":"org.jboss.logging.Logger","loggerName":"`...)
	g.buf = append(g.buf, logger...)
	g.buf = append(g.buf, `","level":"`...)
	g.buf = append(g.buf, level...)
	g.buf = append(g.buf, `","message":`...)
	quoted, _ := json.Marshal(string(msg)) // a string always marshals
	g.buf = append(g.buf, quoted...)
	g.buf = append(g.buf, `,"threadName":"executor-thread-`...)
	g.buf = strconv.AppendInt(g.buf, int64(g.rng.IntN(64)), 10)
	g.buf = append(g.buf, `","threadId":42,"mdc":{},"ndc":"","hostName":"keycloak-0","processName":"QuarkusEntryPoint","processId":1}`+"\n"...)
}

// Regular expressions that a log shipper's grok pattern compiles to: the
// JBoss log prefix, and one quoted key="value" pair.
var (
	grokPrefix = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})\s+([A-Z]+)\s+\[([^\]]+)\]\s+\(([^)]*)\)\s+(.*)$`)
	grokPair   = regexp.MustCompile(`([A-Za-z0-9_.-]+)="((?:[^"\\]|\\.)*)"`)
)

// grokText reads each line with grokPrefix, the message of each event line
// with grokPair into a map, and the timestamp with time.Parse. It returns
// the number of lines.
func grokText(tb testing.TB, data []byte) int {
	lines := 0
	for rest := data; len(rest) > 0; lines++ {
		line, tail, _ := bytes.Cut(rest, []byte("\n"))
		rest = tail
		m := grokPrefix.FindSubmatch(line)
		if m == nil {
			tb.Fatalf("grok prefix does not match %q", line)
		}
		if _, err := time.Parse("2006-01-02 15:04:05,000", string(m[1])); err != nil {
			tb.Fatal(err)
		}
		if string(m[3]) == eventsLogger {
			grokPairs(m[5])
		}
	}
	return lines
}

// grokConsole decodes each line into a map[string]any, then reads the
// message of each event record with grokPair and the timestamp with
// time.Parse. It returns the number of lines.
func grokConsole(tb testing.TB, data []byte) int {
	lines := 0
	for rest := data; len(rest) > 0; lines++ {
		line, tail, _ := bytes.Cut(rest, []byte("\n"))
		rest = tail
		var record map[string]any
		if err := json.Unmarshal(line, &record); err != nil {
			tb.Fatal(err)
		}
		stamp, _ := record["timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
			tb.Fatal(err)
		}
		if record["loggerName"] == eventsLogger {
			msg, _ := record["message"].(string)
			grokPairs([]byte(msg))
		}
	}
	return lines
}

func grokPairs(msg []byte) map[string]string {
	pairs := make(map[string]string, 16)
	for _, m := range grokPair.FindAllSubmatch(msg, -1) {
		pairs[string(m[1])] = string(m[2])
	}
	return pairs
}
