package k8saudit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
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

// BenchmarkParse reads a generated audit log of benchRecords records, beside
// the decoding of each line into a map[string]any with encoding/json, which
// is where a script or a log shipper's JSON stage starts.
//
// The requests, out of 100: 50 gets and lists by service accounts
// (RequestReceived and ResponseComplete), 20 watches by service accounts
// (RequestReceived, ResponseStarted and ResponseComplete), 15 requests
// without a credential id and 10 with a client certificate (two stages
// each, skipped), and 5 TokenRequests by a kubelet, whose ResponseComplete
// stage issues a token. The stages of about ten requests interleave.
func BenchmarkParse(b *testing.B) {
	n := benchRecords(b)
	data := generateLog(n)

	b.Run("tokentrail", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		format := Format()
		var h countingHandler
		events, records := 0, 0
		for b.Loop() {
			h = countingHandler{}
			in := source.Input{Reader: bytes.NewReader(data), Name: "audit.log"}
			if err := format.Parse(context.Background(), in, &h); err != nil {
				b.Fatal(err)
			}
			events += h.events
			records += n
		}
		if h.rejects != 0 || h.events == 0 {
			b.Fatalf("events, skips, rejects = %+v, want events and no rejects", h)
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})

	b.Run("unmarshal_map", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		records := 0
		for b.Loop() {
			for rest := data; len(rest) > 0; records++ {
				line, tail, _ := bytes.Cut(rest, []byte("\n"))
				rest = tail
				var record map[string]any
				if err := json.Unmarshal(line, &record); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
}

// benchRequest is a request of the generated log whose stages are not all
// written yet.
type benchRequest struct {
	auditID string
	kind    int // the request's number out of 100, which gives its kind
	stages  []string
	user    string
	jti     string
	account [2]string // namespace and name
	at      time.Time
}

// logGenerator writes the generated log. A fixed seed makes every run read
// the same bytes.
type logGenerator struct {
	rng  *rand.Rand
	buf  []byte
	at   time.Time
	next int // requests started
}

// generateLog returns n audit records, one JSON object a line, as the API
// server's log backend writes them at the Metadata level, with the bodies
// of TokenRequests.
func generateLog(n int) []byte {
	g := &logGenerator{rng: rand.New(rand.NewPCG(3, 5)), at: time.Date(2025, 5, 19, 9, 0, 0, 0, time.UTC)}
	g.buf = make([]byte, 0, n*1200)
	accounts := make([][3]string, 300) // namespace, name, jti
	for i := range accounts {
		accounts[i] = [3]string{"team-" + strconv.Itoa(i%12), "worker-" + strconv.Itoa(i), g.uuid()}
	}

	var open []*benchRequest
	for written := 0; written < n; written++ {
		g.at = g.at.Add(time.Duration(g.rng.IntN(3000)) * time.Microsecond)
		if len(open) < 4 || len(open) < 16 && g.rng.IntN(2) == 0 {
			account := accounts[g.rng.IntN(len(accounts))]
			req := &benchRequest{
				auditID: g.uuid(),
				kind:    g.next % 100,
				user:    "system:serviceaccount:" + account[0] + ":" + account[1],
				jti:     account[2],
				account: [2]string{account[0], account[1]},
				at:      g.at,
			}
			g.next++
			req.stages = []string{stageRequestReceived, stageResponseComplete}
			if req.kind >= 50 && req.kind < 70 {
				req.stages = []string{stageRequestReceived, stageResponseStarted, stageResponseComplete}
			}
			open = append(open, req)
		}

		i := g.rng.IntN(len(open))
		req := open[i]
		g.record(req, req.stages[0])
		req.stages = req.stages[1:]
		if len(req.stages) == 0 {
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	return g.buf
}

// record writes the record of req at stage.
func (g *logGenerator) record(req *benchRequest, stage string) {
	verb, uri, resource, ua := "get", "/api/v1/namespaces/"+req.account[0]+"/configmaps/settings", "configmaps", "worker/1.4.2 (linux/amd64) kubernetes/abcdef0"
	user, credential, ip := req.user, "JTI="+req.jti, "10.42."+strconv.Itoa(req.kind)+".17"
	subresource, name := "", "settings"
	switch k := req.kind; {
	case k < 25:
		verb, uri, resource, name = "list", "/api/v1/namespaces/"+req.account[0]+"/pods?limit=500", "pods", ""
	case k >= 50 && k < 70:
		verb, uri, resource, name = "watch", "/api/v1/namespaces/"+req.account[0]+"/endpoints?allowWatchBookmarks=true&resourceVersion=745&watch=true", "endpoints", ""
	case k >= 70 && k < 85:
		user, credential, ip, ua = "system:apiserver", "", "::1", "kube-apiserver/v1.33.1 (linux/amd64) kubernetes/8adc0f0"
		verb, uri, resource, name = "list", "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations?limit=500", "prioritylevelconfigurations", ""
	case k >= 85 && k < 95:
		user, credential, ip, ua = "system:node:node-"+strconv.Itoa(k), "X509SHA256="+hex.EncodeToString([]byte(req.auditID[:16])), "192.0.2."+strconv.Itoa(k), "kubelet/v1.33.1 (linux/amd64) kubernetes/8adc0f0"
		verb, uri, resource = "get", "/api/v1/nodes/node-"+strconv.Itoa(k), "nodes"
		name = "node-" + strconv.Itoa(k)
	case k >= 95:
		user, credential, ip, ua = "system:node:node-"+strconv.Itoa(k), "X509SHA256="+hex.EncodeToString([]byte(req.auditID[:16])), "192.0.2."+strconv.Itoa(k), "kubelet/v1.33.1 (linux/amd64) kubernetes/8adc0f0"
		verb, uri, resource, subresource = "create", "/api/v1/namespaces/"+req.account[0]+"/serviceaccounts/"+req.account[1]+"/token", "serviceaccounts", "token"
		name = req.account[1]
	}

	b := g.buf
	b = append(b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"`...)
	b = append(b, req.auditID...)
	b = append(b, `","stage":"`...)
	b = append(b, stage...)
	b = append(b, `","requestURI":`...)
	b = strconv.AppendQuote(b, uri)
	b = append(b, `,"verb":"`...)
	b = append(b, verb...)
	b = append(b, `","user":{"username":"`...)
	b = append(b, user...)
	b = append(b, `","groups":["system:serviceaccounts","system:authenticated"]`...)
	if credential != "" {
		b = append(b, `,"extra":{"authentication.kubernetes.io/credential-id":["`...)
		b = append(b, credential...)
		b = append(b, `"],"authentication.kubernetes.io/node-name":["node-3"],"authentication.kubernetes.io/pod-name":["`...)
		b = append(b, req.account[1]...)
		b = append(b, `-7d6c6c7775-49tpt"]}`...)
	}
	b = append(b, `},"sourceIPs":["`...)
	b = append(b, ip...)
	b = append(b, `"],"userAgent":"`...)
	b = append(b, ua...)
	b = append(b, `","objectRef":{"resource":"`...)
	b = append(b, resource...)
	b = append(b, `","namespace":"`...)
	b = append(b, req.account[0]...)
	if name != "" {
		b = append(b, `","name":"`...)
		b = append(b, name...)
	}
	if subresource != "" {
		b = append(b, `","subresource":"`...)
		b = append(b, subresource...)
	}
	b = append(b, `","apiVersion":"v1"}`...)
	if stage != stageRequestReceived {
		b = append(b, `,"responseStatus":{"metadata":{},"code":200}`...)
	}
	b = append(b, `,"requestReceivedTimestamp":"`...)
	b = req.at.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","stageTimestamp":"`...)
	b = g.at.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, '"')
	if stage != stageRequestReceived {
		b = append(b, `,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"worker\" of Role \"worker\" to ServiceAccount \"worker\""`...)
		if subresource == "token" && stage == stageResponseComplete {
			b = append(b, `,"authentication.kubernetes.io/issued-credential-id":"JTI=`...)
			b = append(b, req.auditID...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	g.buf = b
}

func (g *logGenerator) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
