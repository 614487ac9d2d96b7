package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMessageHandler(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(newMessageHandler(&out)).With("component", "enrich")

	logger.Info("file reloaded", "path", "threats.txt")
	logger.Warn("list line skipped", "name", "bad-guys", "location", "threats.txt:4", "text", "not-an-ip", "reason", "not an IP address or CIDR")
	logger.Error("file not reloaded", "path", "city.mmdb", "error", "permission denied")

	want := "warning: threats.txt:4: list line skipped: not an IP address or CIDR (name \"bad-guys\", text \"not-an-ip\")\n" +
		"error: city.mmdb: file not reloaded: permission denied\n"
	if out.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", out.String(), want)
	}
}

// TestEnrichPathsRelativeToFile imports with an --enrich file in another
// folder than the working directory, whose list it names by file name.
func TestEnrichPathsRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings")
	if err := os.Mkdir(settings, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, settings, "threats.txt", "45.33.32.156\nnot-an-ip\n")
	enrichFile := writeFile(t, settings, "enrich.yaml", "lists:\n  - name: bad-guys\n    path: threats.txt\n")
	logs := writeFile(t, dir, "gateway.jsonl", gatewayLine("t1", "45.33.32.156", "10:00:00"))

	stdout, stderr, err := run(t, "", "--db", filepath.Join(dir, "events.db"), "import", "--enrich", enrichFile, "--format", "jsonl", "--map", gatewayMap, logs)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "anomalies: 1 found") {
		t.Errorf("import output = %q, want the threat_intel_ip anomaly of the listed address", stdout)
	}
	want := "warning: " + filepath.Join(settings, "threats.txt") + ":2: list line skipped: "
	if !strings.Contains(stderr, want) || strings.Contains(stderr, "level=") || strings.Contains(stderr, "WARN") {
		t.Errorf("standard error = %q, want a line starting %q in the CLI's form", stderr, want)
	}
}
