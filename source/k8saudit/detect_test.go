package k8saudit

import (
	"os"
	"testing"

	"github.com/tokentrail/tokentrail/internal/shareddata"
)

func TestDetect(t *testing.T) {
	hori := readFile(t, "testdata/hori-k3s-linkerd.jsonl")
	pretty, _ := indentedList(t, baseRecord)
	prettyEvent, err := indentJSON([]byte(baseRecord))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{name: "JSON lines", sample: hori, want: true},
		{name: "sample cut inside first line", sample: hori[:300], want: true},
		{name: "TokenRequest records", sample: readFile(t, "testdata/tokenrequest.jsonl"), want: true},
		{name: "pretty-printed EventList", sample: pretty, want: true},
		{name: "pretty-printed event", sample: string(prettyEvent), want: true},
		{name: "EventList on one line", sample: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`, want: true},
		{name: "array of events", sample: "[" + baseRecord + "]", want: true},
		{name: "record without apiVersion", sample: `{"level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get"}`, want: true},
		{name: "garbage line before records", sample: "audit log follows\n" + baseRecord, want: true},
		{name: "byte order mark", sample: "\xEF\xBB\xBF" + baseRecord, want: true},
		{name: "other Kubernetes object", sample: `{"kind":"Pod","apiVersion":"v1","metadata":{}}`, want: false},
		{name: "other apiVersion first", sample: `{"apiVersion":"v1","kind":"Event","reason":"Pulled"}`, want: false},
		{name: "unknown stage", sample: `{"auditID":"a1","stage":"Done"}`, want: false},
		{name: "Keycloak-style event", sample: `{"type":"LOGIN","realmId":"master","clientId":"web","ipAddress":"10.0.0.1","time":1700000000000}`, want: false},
		{name: "plain text", sample: "2025-01-01 INFO started\n2025-01-01 INFO ready\n", want: false},
		{name: "empty", sample: "", want: false},
		{name: "blank lines", sample: "\n\n  \n", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.sample)); got != tt.want {
				t.Errorf("Detect(%.60q) = %v, want %v", tt.sample, got, tt.want)
			}
		})
	}
}

// TestDetectSamples runs Detect over the first 64 KiB of the sample logs of
// every format.
func TestDetectSamples(t *testing.T) {
	tests := []struct {
		file string
		want bool
	}{
		{"k8s-audit-k3s-linkerd-jti-hori.jsonl", true},
		{"k8s-audit-minikube-v1.32-bugurshik.jsonl", true},
		{"k8s-audit-sekoia.jsonl", true},
		{"keycloak-events-sekoia-kc26-ecs-json.jsonl", false},
		{"okta-system-log-sekoia.jsonl", false},
		{"auth0-logs-elastic-integrations.jsonl", false},
		{"entra-signin-logs-sekoia.jsonl", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(shareddata.File(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			b = b[:min(len(b), 64<<10)]

			if got := Detect(b); got != tt.want {
				t.Errorf("Detect(%s) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}
