package k8saudit

import (
	"bytes"
	"encoding/json"
	"strings"
)

// detectLines is how many non-blank lines Detect tries before it gives up.
const detectLines = 5

// Detect reports whether sample, the first bytes of a file, starts with a
// Kubernetes audit record. It reads the top-level fields of the first JSON
// value, which the end of sample may cut short. A record is an audit record
// when its apiVersion is audit.k8s.io/* and its kind Event or EventList, or
// when it has an auditID and a known stage, as older records without
// apiVersion do. For an EventList or an array, the first item decides. When
// the first line is not JSON, the next lines are tried, up to five.
func Detect(sample []byte) bool {
	sample = bytes.TrimPrefix(sample, utf8BOM)
	for pos, tried := 0, 0; pos < len(sample) && tried < detectLines; {
		next := len(sample)
		if end := bytes.IndexByte(sample[pos:], '\n'); end >= 0 {
			next = pos + end + 1
		}
		if len(bytes.TrimSpace(sample[pos:next])) == 0 {
			pos = next
			continue
		}
		tried++

		// The walk reads past the end of the line, because the value may
		// be a pretty-printed document.
		switch sniff(sample[pos:]) {
		case verdictAudit:
			return true
		case verdictOther:
			return false
		}
		pos = next
	}
	return false
}

type verdict int

const (
	verdictUnknown verdict = iota // the JSON ended before the record showed what it is
	verdictAudit
	verdictOther
)

// sniff reads the top-level fields of the first JSON value of b.
func sniff(b []byte) verdict {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return verdictUnknown
	}
	switch tok {
	case json.Delim('['):
		return sniffArray(dec)
	case json.Delim('{'):
		return sniffObject(dec)
	default:
		return verdictOther
	}
}

// sniffArray judges an array whose "[" has been read by its first element.
func sniffArray(dec *json.Decoder) verdict {
	tok, err := dec.Token()
	if err != nil {
		return verdictUnknown
	}
	if tok != json.Delim('{') {
		return verdictOther
	}
	return sniffObject(dec)
}

// sniffObject judges an object whose "{" has been read.
func sniffObject(dec *json.Decoder) verdict {
	var kind, apiVersion, auditID, stage string
	judge := func(complete bool) verdict {
		switch {
		case strings.HasPrefix(apiVersion, "audit.k8s.io/") && (kind == "Event" || kind == "EventList"):
			return verdictAudit
		case apiVersion != "" && !strings.HasPrefix(apiVersion, "audit.k8s.io/"):
			return verdictOther
		case kind != "" && kind != "Event" && kind != "EventList":
			return verdictOther
		case auditID != "" && stageRank[stage] > 0:
			return verdictAudit
		case complete:
			return verdictOther
		}
		return verdictUnknown
	}

	for {
		tok, err := dec.Token()
		if err != nil {
			return judge(false)
		}
		if tok == json.Delim('}') {
			return judge(true)
		}
		key, _ := tok.(string)

		value, err := dec.Token()
		if err != nil {
			return judge(false)
		}
		if value == json.Delim('[') && key == "items" {
			if v := sniffArray(dec); v != verdictUnknown {
				return v
			}
			return judge(false)
		}
		if delim, ok := value.(json.Delim); ok {
			if err := skipRest(dec, delim); err != nil {
				return judge(false)
			}
			continue
		}

		s, _ := value.(string)
		switch key {
		case "kind":
			kind = s
		case "apiVersion":
			apiVersion = s
		case "auditID":
			auditID = s
		case "stage":
			stage = s
		}
		if v := judge(false); v != verdictUnknown {
			return v
		}
	}
}
