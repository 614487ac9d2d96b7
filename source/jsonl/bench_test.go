package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// benchLines is the size of the generated log of each iteration of the
// benchmarks other than BenchmarkParse.
const benchLines = 100_000

// defaultBenchRecords is the number of records of the generated log that
// BenchmarkParse reads; TOKENTRAIL_BENCH_RECORDS overrides it.
const defaultBenchRecords = 500_000

// benchRecords returns the size of BenchmarkParse's generated log, from
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

// counter counts events and fails on a rejection.
type counter struct {
	tb     testing.TB
	events int
}

func (c *counter) Event(audit.Event) error { c.events++; return nil }
func (c *counter) Skip(int, string)        {}
func (c *counter) Reject(err *source.RecordError) {
	c.tb.Fatalf("generated record rejected: %v", err)
}

// generateLog writes n access-log records shaped like apigw-http-api.jsonl,
// with the raw token in an Authorization header when withToken is set. A
// fixed seed makes every run read the same bytes.
func generateLog(tb testing.TB, withToken bool, n int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	agents := []string{"okhttp/4.12.0", "python-requests/2.32.3", "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}

	tokens := make([]string, 200)
	for i := range tokens {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"jti": fmt.Sprintf("jti-%04d", i), "sub": fmt.Sprintf("user-%04d", i), "iss": cognitoIssuer,
			"client_id": "3n4b5urk1ft4fl3mg5e62d9ado", "scope": "orders/read orders/write",
			"iat": 1718273400 + i, "exp": 1718277000 + i,
		}).SignedString([]byte("benchmark key"))
		if err != nil {
			tb.Fatal(err)
		}
		tokens[i] = s
	}

	var buf bytes.Buffer
	epoch := int64(1718273730123)
	for i := range n {
		epoch += rng.Int64N(50)
		user := rng.IntN(len(tokens))
		header := ""
		if withToken {
			header = fmt.Sprintf(`"headers":{"authorization":"Bearer %s"},`, tokens[user])
		}
		fmt.Fprintf(&buf, `{%s"requestContext":{"requestId":"req-%08d","routeKey":"GET /orders/{orderId}","stage":"$default",`+
			`"timeEpoch":%d,"http":{"method":"%s","path":"/orders/%d","protocol":"HTTP/1.1","sourceIp":"203.0.%d.%d","userAgent":"%s"},`+
			`"authorizer":{"jwt":{"claims":{"client_id":"3n4b5urk1ft4fl3mg5e62d9ado","exp":"%d","iat":"%d","iss":"%s",`+
			`"jti":"jti-%04d","scope":"orders/read orders/write","sub":"user-%04d","token_use":"access"}}},"integrationLatency":"%d"},`+
			`"status":"%d","responseLength":"%d"}`+"\n",
			header, i, epoch, methods[rng.IntN(len(methods))], rng.IntN(100000), rng.IntN(256), rng.IntN(256),
			agents[rng.IntN(len(agents))], 1718277000+user, 1718273400+user, cognitoIssuer, user, user,
			rng.IntN(200), 200+rng.IntN(5), rng.IntN(5000))
	}
	return buf.Bytes()
}

// BenchmarkParse imports a generated API gateway access log of benchRecords
// records with the mapping of apigw-mapping.yaml (15 fields), beside the
// decoding of each line into a map[string]any with encoding/json, which is
// where a script that reads such a log starts.
func BenchmarkParse(b *testing.B) {
	n := benchRecords(b)
	data := generateLog(b, false, n)
	b.Run("tokentrail", func(b *testing.B) {
		benchmarkParse(b, loadMappingFile(b, "apigw-mapping.yaml"), data)
	})
	b.Run("unmarshal_map", func(b *testing.B) {
		benchmarkUnmarshalMap(b, data)
	})
}

func benchmarkParse(b *testing.B, m Mapping, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	f := Format(m)
	events := 0
	for b.Loop() {
		c := &counter{tb: b}
		in := source.Input{Reader: bytes.NewReader(data), Name: "bench.jsonl"}
		if err := f.Parse(context.Background(), in, c); err != nil {
			b.Fatal(err)
		}
		events += c.events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParseClaims imports a log whose claims the gateway wrote as
// fields, with the mapping of apigw-mapping.yaml (15 fields).
func BenchmarkParseClaims(b *testing.B) {
	benchmarkParse(b, loadMappingFile(b, "apigw-mapping.yaml"), generateLog(b, false, benchLines))
}

// BenchmarkParseToken imports a log with the raw token in a header, from
// which every event's identity and claims are derived.
func BenchmarkParseToken(b *testing.B) {
	m := mustMapping(b, "token=headers.authorization,time=requestContext.timeEpoch,time_format=unix_ms,"+
		"ip=requestContext.http.sourceIp,method=requestContext.http.method,path=requestContext.http.path,status=status")
	benchmarkParse(b, m, generateLog(b, true, benchLines))
}

// BenchmarkUnmarshalMap decodes the log of BenchmarkParseClaims into
// map[string]any, one line at a time, and does nothing else: the cost of
// the generic decoding that the importer's path lookup replaces.
func BenchmarkUnmarshalMap(b *testing.B) {
	benchmarkUnmarshalMap(b, generateLog(b, false, benchLines))
}

func benchmarkUnmarshalMap(b *testing.B, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	lines := 0
	for b.Loop() {
		rest := data
		for len(rest) > 0 {
			line, tail, _ := bytes.Cut(rest, []byte("\n"))
			rest = tail
			var record map[string]any
			if err := json.Unmarshal(line, &record); err != nil {
				b.Fatal(err)
			}
			lines++
		}
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
