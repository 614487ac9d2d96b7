package jsonrecords

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// defaultBenchRecords is the number of records of the generated input that
// BenchmarkRead reads; TOKENTRAIL_BENCH_RECORDS overrides it.
const defaultBenchRecords = 500_000

// benchRecords returns the number of generated records, from
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

// benchRecord returns a record shaped like an identity provider's sign-in
// event, about 1.5 KB, with values drawn from rng.
func benchRecord(rng *rand.Rand) []byte {
	id := func(n int) string {
		const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	return fmt.Appendf(nil, `{"uuid":"%s-%s-%s","published":"2025-03-%02dT%02d:%02d:%02d.%03dZ",`+
		`"eventType":"app.oauth2.as.token.grant.access_token","version":"0","severity":"INFO",`+
		`"displayMessage":"OAuth2 access token is granted",`+
		`"actor":{"id":"00u%s","type":"User","alternateId":"user%d@example.com","displayName":"User \"%d\"","detailEntry":null},`+
		`"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/122.0","os":"Linux","browser":"CHROME"},`+
		`"zone":"null","device":"Computer","id":null,"ipAddress":"198.51.100.%d",`+
		`"geographicalContext":{"city":"Springfield","state":"Oregon","country":"United States","postalCode":"97477","geolocation":{"lat":%.4f,"lon":%.4f}}},`+
		`"outcome":{"result":"SUCCESS","reason":null},"target":[{"id":"AT.%s","type":"access_token","alternateId":"urn:okta:access_token","displayName":"Access Token","detailEntry":{"expires":"2025-03-%02dT%02d:00:00.000Z","subject":"00u%s","hash":"%s"}},`+
		`{"id":"0oa%s","type":"PublicClientApp","alternateId":"Example Portal","displayName":"Example Portal","detailEntry":null}],`+
		`"transaction":{"type":"WEB","id":"%s"},`+
		`"debugContext":{"debugData":{"requestId":"%s","requestUri":"/oauth2/default/v1/token","grantType":"authorization_code"}},`+
		`"authenticationContext":{"authenticationStep":0,"externalSessionId":"102%s","rootSessionId":"102%s"},`+
		`"securityContext":{"asNumber":%d,"asOrg":"example networks","isProxy":false},`+
		`"request":{"ipChain":[{"ip":"198.51.100.%d","version":"V4","source":null}]}}`,
		id(8), id(4), id(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000),
		id(17), rng.IntN(10000), rng.IntN(10000),
		rng.IntN(256), rng.Float64()*180-90, rng.Float64()*360-180,
		id(40), 1+rng.IntN(28), rng.IntN(24), id(17), id(22),
		id(17), id(22), id(24),
		id(22), id(22), 1000+rng.IntN(60000), rng.IntN(256))
}

// benchInputs returns n generated records as JSON lines and as one
// pretty-printed array, as an API returns them: each record on its own
// line inside "[" and "]".
func benchInputs(n int) (lines, array []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([][]byte, 1000)
	for i := range pool {
		pool[i] = benchRecord(rng)
	}

	var l, a bytes.Buffer
	a.WriteString("[\n")
	for i := range n {
		rec := pool[i%len(pool)]
		l.Write(rec)
		l.WriteByte('\n')
		if i > 0 {
			a.WriteString(",\n")
		}
		a.WriteString("  ")
		a.Write(rec)
	}
	a.WriteString("\n]\n")
	return l.Bytes(), a.Bytes()
}

// BenchmarkRead reads benchRecords generated records of about 1.5 KB as
// JSON lines and as an array. Beside each, the baselines show where the time
// goes: the bare line reader without any check, and fastjson's validator
// on each line, which the scanner replaces. parse_fastjson is the parse that
// an importer then runs on each record, for scale.
func BenchmarkRead(b *testing.B) {
	n := benchRecords(b)
	lines, array := benchInputs(n)
	b.Logf("%d records: %d bytes as JSON lines, %d as an array", n, len(lines), len(array))

	read := func(data []byte) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			records := 0
			for b.Loop() {
				h := &countingHandler{}
				in := source.Input{Reader: bytes.NewReader(data), Name: "bench.json"}
				err := Read(context.Background(), in, h, func(int, []byte) error {
					records++
					return nil
				})
				if err != nil || h.rejects != 0 {
					b.Fatalf("Read error = %v, %d rejects", err, h.rejects)
				}
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		}
	}
	b.Run("json_lines", read(lines))
	b.Run("array", read(array))

	b.Run("baseline_line_reader", func(b *testing.B) {
		b.SetBytes(int64(len(lines)))
		b.ReportAllocs()
		for b.Loop() {
			lr := source.NewLineReader(bytes.NewReader(lines), 0)
			for {
				if _, _, err := lr.Next(); errors.Is(err, io.EOF) {
					break
				}
			}
		}
	})
	b.Run("baseline_fastjson_validate", func(b *testing.B) {
		b.SetBytes(int64(len(lines)))
		b.ReportAllocs()
		for b.Loop() {
			lr := source.NewLineReader(bytes.NewReader(lines), 0)
			for {
				line, _, err := lr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err := fastjson.ValidateBytes(line); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parse_fastjson", func(b *testing.B) {
		b.SetBytes(int64(len(lines)))
		b.ReportAllocs()
		var p fastjson.Parser
		for b.Loop() {
			lr := source.NewLineReader(bytes.NewReader(lines), 0)
			for {
				line, _, err := lr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if _, err := p.ParseBytes(line); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// countingHandler counts rejections and keeps nothing.
type countingHandler struct{ rejects int }

func (h *countingHandler) Event(audit.Event) error    { return nil }
func (h *countingHandler) Skip(int, string)           {}
func (h *countingHandler) Reject(*source.RecordError) { h.rejects++ }
