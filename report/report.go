// Package report writes the JSON form of tokentrail's reports, the one
// that the CLI's --json output and the server's API share: a token report
// (forensics.TokenReport), an incident (forensics.IncidentReport), related
// tokens (forensics.RelatedToken) and anomalies (audit.Anomaly).
// docs/report-json.md documents their fields, which stay stable.
package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes v as one JSON value indented by two spaces and ended by
// a newline. As encoding/json does by default, it escapes <, > and & in
// strings, so that a report pasted into an HTML page cannot close a tag.
// It returns the encoding or write error.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}
