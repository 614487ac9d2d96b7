package auth0

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// countingHandler counts what Parse reports and keeps nothing.
type countingHandler struct{ events, skips, rejects int }

func (h *countingHandler) Event(audit.Event) error    { h.events++; return nil }
func (h *countingHandler) Skip(int, string)           { h.skips++ }
func (h *countingHandler) Reject(*source.RecordError) { h.rejects++ }

// benchTemplates are log-stream records of the types that a tenant with
// refresh tokens writes. %[1]s is the log_id, %[2]s the date and %[3]d a
// number that varies the address and ids.
var benchTemplates = []string{
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"s","description":"","connection":"Username-Password-Authentication","connection_id":"con_Example00000001","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"203.0.%[3]d.10","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0","details":{"prompts":[{"name":"prompt-authenticate","completedAt":1740824100000,"connection":"Username-Password-Authentication","strategy":"auth0","identity":"65e1a7c0ffee00000000a001","stats":{"loginsCount":12},"elapsedTime":null}],"initiatedAt":1740824090000,"completedAt":1740824100119,"elapsedTime":10119,"session_id":"Sess%[3]dKq3vT9xYbL2mN8pR4sW6uZ0a","stats":{"loginsCount":12}},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","user_name":"user%[3]d@example.com","strategy":"auth0","strategy_type":"database","log_id":"%[1]s","isMobile":false,"location_info":{"country_code":"DE","country_code3":"DEU","country_name":"Germany","city_name":"Berlin","latitude":52.52,"longitude":13.405,"time_zone":"Europe/Berlin","continent_code":"EU"}}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"seacft","description":"Authorization Code for Access Token","connection_id":"","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"203.0.%[3]d.10","user_agent":"node-fetch/1.0","details":{"code":"*************************************7Hq"},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","user_name":"user%[3]d@example.com","audience":"https://api.example.com/","scope":"openid profile offline_access read:orders","log_id":"%[1]s","isMobile":false}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"sertft","description":"Refresh Token for Access Token","connection_id":"","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"2001:db8:%[3]d::10","user_agent":"ExampleShop/4.2 (Android 14)","details":{"familyId":"fam_Example%[3]d","tokenCounter":3,"access_token_jti":"c0ffee00-1111-4a2b-8c3d-%[3]d","refresh_token":{"access":"offline","session_id":"Sess%[3]dKq3vT9xYbL2mN8pR4sW6uZ0a"}},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","user_name":"user%[3]d@example.com","audience":"https://api.example.com/","scope":["openid","profile","offline_access","read:orders"],"log_id":"%[1]s","isMobile":true}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"sapi","description":"Update a user","client_id":"Mm2Mc1i3ntIdF0rBackOfficeJob0001","client_name":"Back-office job","ip":"198.51.100.%[3]d","user_agent":"Go-http-client/2.0","details":{"request":{"method":"patch","path":"/api/v2/users/auth0%%7C65e1a7c0ffee0000000%[3]d","query":{},"userAgent":"Go-http-client/2.0","body":{"blocked":true},"channel":"api","ip":"198.51.100.%[3]d","auth":{"user":{},"strategy":"jwt","credentials":{"jti":"5b7e2c9a41d34f0e8a6b1c2d3e4f%[3]d","scopes":["read:users","update:users"]}}},"response":{"statusCode":200,"body":{"user_id":"auth0|65e1a7c0ffee0000000%[3]d","blocked":true}}},"user_id":"","hostname":"login.example.com","log_id":"%[1]s"}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"slo","description":"User successfully logged out.","connection":"Username-Password-Authentication","connection_id":"con_Example00000001","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"203.0.%[3]d.10","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0","details":{"return_to":"https://shop.example.com/","allowed_logout_url":["https://shop.example.com/"],"session_id":"Sess%[3]dKq3vT9xYbL2mN8pR4sW6uZ0a"},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","user_name":"user%[3]d@example.com","log_id":"%[1]s"}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"fp","description":"Wrong email or password.","connection":"Username-Password-Authentication","connection_id":"con_Example00000001","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"192.0.2.%[3]d","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36","details":{"error":{"message":"Wrong email or password."},"session_id":"Fail%[3]dKq3vT9xYbL2mN8pR4sW6uZ0a"},"user_id":"auth0|65e1a7c0ffee0000000%[3]d","user_name":"user%[3]d@example.com","strategy":"auth0","strategy_type":"database","hostname":"login.example.com","log_id":"%[1]s"}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"f","description":"Callback URL mismatch.","connection_id":"","ip":"192.0.2.%[3]d","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36","details":{"body":{},"qs":{"client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","redirect_uri":"https://shop.example.com/callback","response_type":"code","scope":"openid profile"},"error":{"message":"Callback URL mismatch.","type":"callback-url-mismatch"}},"hostname":"login.example.com","log_id":"%[1]s"}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"ferrt","description":"Refresh token presented again after it was rotated","connection_id":"","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"2001:db8:4::%[3]d","user_agent":"python-requests/2.32.3","details":{"familyId":"fam_Example%[3]d","tokenCounter":1,"latestCounter":3},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","audience":"https://api.example.com/","log_id":"%[1]s","isMobile":false}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"fertft","description":"Unknown or invalid refresh token.","connection_id":"","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"2001:db8:4::%[3]d","user_agent":"python-requests/2.32.3","details":{"refresh_token":{"access":"offline"}},"hostname":"login.example.com","user_id":"","audience":"https://api.example.com/","log_id":"%[1]s","isMobile":false}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"srrt","description":"Revoked refresh token family after reuse","client_id":"Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA","client_name":"Example Shop","ip":"2001:db8:4::%[3]d","user_agent":"python-requests/2.32.3","details":{"credential_id":"fam_Example%[3]d"},"hostname":"login.example.com","user_id":"auth0|65e1a7c0ffee0000000%[3]d","log_id":"%[1]s"}}`,
	`{"log_id":"%[1]s","data":{"date":"%[2]s","type":"du","description":"User deleted","client_id":"Mm2Mc1i3ntIdF0rBackOfficeJob0001","ip":"198.51.100.%[3]d","details":{},"user_id":"auth0|65e1a7c0ffee0000000%[3]d","hostname":"login.example.com","log_id":"%[1]s"}}`,
}

// benchMix lists the template of each of 20 consecutive records: 3 logins,
// 3 code exchanges, 4 refreshes, 2 Management API calls, a logout, 2 failed
// logins in a session and one without, a reuse, a failed refresh, a
// revocation and a user deletion. The mix is made up, not measured.
var benchMix = []int{0, 1, 2, 3, 0, 1, 2, 4, 5, 2, 0, 1, 2, 3, 5, 6, 7, 8, 9, 10}

// benchInput returns n generated log-stream records, one a line.
func benchInput(n int) []byte {
	var buf bytes.Buffer
	buf.Grow(n * 900)
	for i := range n {
		date := fmt.Sprintf("2025-03-%02dT%02d:%02d:%02d.%03dZ", 1+i/86400%28, i/3600%24, i/60%60, i%60, i%1000)
		id := fmt.Sprintf("90020250301%045d", i)
		fmt.Fprintf(&buf, benchTemplates[benchMix[i%len(benchMix)]], id, date, i%250)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkParse parses a generated log-stream file of 500,000 records
// (TOKENTRAIL_BENCH_RECORDS sets another count), and, for comparison,
// decodes each line into a map[string]any with encoding/json, which is what
// a hand-written importer would start from.
func BenchmarkParse(b *testing.B) {
	records := 500_000
	if s := os.Getenv("TOKENTRAIL_BENCH_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("TOKENTRAIL_BENCH_RECORDS = %q, want a positive count", s)
		}
		records = n
	}
	input := benchInput(records)

	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(int64(len(input)))
		b.ReportAllocs()
		var h countingHandler
		for b.Loop() {
			h = countingHandler{}
			in := source.Input{Reader: bytes.NewReader(input), Name: "bench.jsonl"}
			if err := Format().Parse(context.Background(), in, &h); err != nil {
				b.Fatal(err)
			}
		}
		if h.rejects != 0 {
			b.Fatalf("%d records rejected", h.rejects)
		}
		b.ReportMetric(float64(h.events), "events/op")
		b.ReportMetric(float64(h.events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	// The same logs, each the detail of an EventBridge event of Auth0's log
	// stream.
	wrapped := eventBridgeInput(input)
	b.Run("Parse-EventBridge", func(b *testing.B) {
		b.SetBytes(int64(len(wrapped)))
		b.ReportAllocs()
		var h countingHandler
		for b.Loop() {
			h = countingHandler{}
			in := source.Input{Reader: bytes.NewReader(wrapped), Name: "bench.jsonl"}
			if err := Format().Parse(context.Background(), in, &h); err != nil {
				b.Fatal(err)
			}
		}
		if h.rejects != 0 {
			b.Fatalf("%d records rejected", h.rejects)
		}
		b.ReportMetric(float64(h.events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("encoding-json-map", func(b *testing.B) {
		b.SetBytes(int64(len(input)))
		b.ReportAllocs()
		decoded := 0
		for b.Loop() {
			decoded = 0
			for line := range bytes.Lines(input) {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					b.Fatal(err)
				}
				decoded++
			}
		}
		b.ReportMetric(float64(decoded)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// eventBridgeInput wraps each line of input in an Amazon EventBridge event
// of Auth0's log stream, one event a line.
func eventBridgeInput(input []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(input) * 5 / 4)
	i := 0
	for line := range bytes.Lines(input) {
		fmt.Fprintf(&buf, `{"version":"0","id":"6a8b0005-0000-4000-8000-%012d","detail-type":"Auth0 log",`+
			`"source":"aws.partner/auth0.com/example-tenant-2f6c1d0e/auth0.logs","account":"111122223333",`+
			`"time":"2025-03-01T00:00:00Z","region":"eu-west-1","resources":[],"detail":%s}`, i, bytes.TrimSpace(line))
		buf.WriteByte('\n')
		i++
	}
	return buf.Bytes()
}
