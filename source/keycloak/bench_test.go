package keycloak

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// countingHandler counts what Parse reports and keeps nothing.
type countingHandler struct{ events, skips, rejects int }

func (h *countingHandler) Event(audit.Event) error    { h.events++; return nil }
func (h *countingHandler) Skip(int, string)           { h.skips++ }
func (h *countingHandler) Reject(*source.RecordError) { h.rejects++ }

// BenchmarkParse reads every sample file under testdata, repeated 100 times
// into one input of about 1.5 MB (10,100 lines).
func BenchmarkParse(b *testing.B) {
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
