package simulate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tokentrail/tokentrail/audit"
)

// The files that WriteFiles and the CLI write into the output folder.
const (
	EventsFile     = "events.jsonl"
	LabelsFile     = "labels.json"
	ThreatListFile = "threat-list.txt"
	RulesFile      = "rules.yaml"
	EnrichFile     = "enrich.yaml"
	MappingFile    = "map.yaml"
)

// MappingYAML is the field mapping with which `tokentrail import --format
// jsonl --map-file` reads the events that EventWriter writes, which are
// audit.Event values in their JSON form.
const MappingYAML = `# Field mapping of tokentrail simulate's events.jsonl, for
# tokentrail import --format jsonl --map-file map.yaml events.jsonl
fields:
  id: id
  time: time
  kind: kind
  jti: token_id
  fingerprint: fingerprint
  iss: issuer
  sub: subject
  aud: audience
  client: client_id
  session: session_id
  parent: parent_token_id
  scope: scopes
  iat: issued_at
  nbf: not_before
  exp: expires_at
  ip: ip
  ua: user_agent
  method: method
  path: path
  status: status
  trace: trace_id
  actor: actor
  reason: reason
  revocation_method: revocation_method
  reject_reason: reject_reason
  country: geo.country
  city: geo.city
  lat: geo.latitude
  lon: geo.longitude
  accuracy_km: geo.accuracy_km
  asn: geo.asn
  org: geo.org
time_format: rfc3339
`

// WriteFiles writes the deployment's files into dir, which must exist: the
// threat list, the detection settings for `import --rules`, the enrichment
// settings for `import --enrich`, and the field mapping for `import
// --map-file`. The enrichment settings name the threat list by its file
// name, which --enrich resolves against their folder, so the folder can
// move.
func (d Deployment) WriteFiles(dir string) error {
	files := []struct {
		name string
		data []byte
	}{
		{ThreatListFile, d.ThreatList},
		{RulesFile, d.RulesYAML()},
		{EnrichFile, EnrichYAML(ThreatListFile)},
		{MappingFile, []byte(MappingYAML)},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("simulate: write files: %w", err)
		}
	}
	return nil
}

// WriteLabels writes the labels as an indented JSON array.
func WriteLabels(path string, labels []Label) error {
	if labels == nil {
		labels = []Label{}
	}
	data, err := json.MarshalIndent(labels, "", "  ")
	if err != nil {
		return fmt.Errorf("simulate: encode labels: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("simulate: write labels: %w", err)
	}
	return nil
}

// EventWriter writes events as JSON lines, one audit.Event a line in its
// JSON form, which MappingYAML maps for import. It buffers: call Flush at
// the end. It is not safe for concurrent use.
type EventWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewEventWriter returns an EventWriter that writes to w.
func NewEventWriter(w io.Writer) *EventWriter {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &EventWriter{w: bw, enc: enc}
}

// Write writes one event.
func (ew *EventWriter) Write(e audit.Event) error {
	if err := ew.enc.Encode(e); err != nil {
		return fmt.Errorf("simulate: write event %s: %w", e.ID, err)
	}
	return nil
}

// Flush writes what is buffered.
func (ew *EventWriter) Flush() error {
	if err := ew.w.Flush(); err != nil {
		return fmt.Errorf("simulate: write events: %w", err)
	}
	return nil
}
