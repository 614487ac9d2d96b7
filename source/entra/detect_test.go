package entra

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/shareddata"
)

// detectSampleBytes is how much of a file auto-detection hands to Detect.
const detectSampleBytes = 64 << 10

func readSample(tb testing.TB, path string) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, detectSampleBytes))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestDetectSharedSamples checks that Detect recognises the Entra samples
// and no sample of another format.
func TestDetectSharedSamples(t *testing.T) {
	dir := shareddata.Dir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		if entry.IsDir() {
			continue
		}
		name := entry.Name()
		want := strings.HasPrefix(name, "entra-")
		if got := Detect(readSample(t, filepath.Join(dir, name))); got != want {
			t.Errorf("Detect(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	diagnostic := readSample(t, "testdata/diagnostic-records.json")
	logAnalytics := readSample(t, "testdata/log-analytics-export.json")
	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{"sign-in line", baseSignIn + "\n", true},
		{"Graph activity line", baseGraph + "\n", true},
		{"diagnostic records", string(diagnostic), true},
		{"diagnostic records cut", string(diagnostic[:len(diagnostic)/2]), true},
		{"Graph API page", string(readSample(t, "testdata/graph-api-signins.json")), true},
		{"Log Analytics export", string(logAnalytics), true},
		{"Log Analytics export cut", string(logAnalytics[:len(logAnalytics)/2]), true},
		{"Log Analytics sign-in row", baseRow + "\n", true},
		{"Log Analytics Graph row", baseGraphRow + "\n", true},
		{"row with Category only", `{"TimeGenerated":"2025-03-07T09:06:07Z","Category":"ManagedIdentitySignInLogs","Id":"1"}`, true},
		{"row projected without Type", `{"TimeGenerated":"2025-03-07T09:06:07Z","Id":"1","UniqueTokenIdentifier":"x"}`, true},
		{"Graph row projected without Type", `{"TimeGenerated":"2025-03-07T09:06:07Z","RequestId":"1","SignInActivityId":"x"}`, true},
		{"row of another table first", `{"TimeGenerated":"2025-03-07T09:30:00Z","Type":"AuditLogs","Id":"1"}` + "\n" + baseRow, false},
		{"row of another table with a token id", `{"TimeGenerated":"2025-03-07T09:30:00Z","Type":"OfficeActivity","UniqueTokenIdentifier":"x"}`, false},
		{"TimeGenerated alone", `{"TimeGenerated":"2025-03-07T09:30:00Z","Id":"1"}`, false},
		{"Graph API sign-in line", `{"id":"1","createdDateTime":"2025-03-07T09:06:07Z","userPrincipalName":"ada@example.com","appId":"a"}`, true},
		{"audit log first", `{"time":"2025-03-07T09:30:00Z","category":"AuditLogs","properties":{}}` + "\n" + baseSignIn, false},
		{"category of another service", `{"time":"2025-03-07T09:30:00Z","category":"kube-audit","properties":{}}`, false},
		{"object without Entra fields", `{"id":"1","createdDateTime":"2025-03-07T09:06:07Z","appId":"a"}`, false},
		{"Okta event", `{"eventType":"user.session.start","published":"2025-03-07T09:06:07Z","uuid":"x"}`, false},
		{"empty", "", false},
		{"text", "2025-03-07 09:06:07 INFO started\n", false},
		{"binary", "\x00\x01\x02\xff\xfe", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.sample)); got != tt.want {
				t.Errorf("Detect(%.60q) = %v, want %v", tt.sample, got, tt.want)
			}
		})
	}
}

// TestDetectOtherImportersTestdata checks that Detect recognises no test
// data file of the other importers.
func TestDetectOtherImportersTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "*", "testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, path := range files {
		if strings.HasPrefix(path, filepath.Join("..", "entra")) {
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.IsDir() {
			continue
		}
		checked++
		if Detect(readSample(t, path)) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
	}
	if checked == 0 {
		t.Errorf("found no test data of other importers under ../*/testdata")
	}
}
