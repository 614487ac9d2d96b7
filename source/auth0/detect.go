package auth0

import (
	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// isLogRecord reports whether raw is an Auth0 log record: a JSON object
// with a log_id, a type and a date, at the top level or inside the "data"
// object of the log-stream wrapper. The record may also be the detail of an
// EventBridge event or the data of an Event Grid event.
func isLogRecord(raw []byte) bool {
	var p fastjson.Parser
	root, err := p.ParseBytes(raw)
	if err != nil || root.Type() != fastjson.TypeObject {
		return false
	}
	record, skip, err := unwrap(root)
	if err != nil || skip != "" {
		return false
	}
	v := logObject(record)
	if _, err := logID(record, v); err != nil {
		return false
	}
	return text(v, "type") != "" && text(v, "date") != ""
}

// Detect reports whether sample, the first bytes of a file (possibly cut
// inside a record), starts with an Auth0 log record as isLogRecord defines
// it. The first record decides, in any layout that jsonrecords reads.
func Detect(sample []byte) bool {
	raw, ok := jsonrecords.First(sample)
	return ok && isLogRecord(raw)
}
