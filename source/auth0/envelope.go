package auth0

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"
)

// eventBridgeSourcePrefix starts the source of every event that Auth0's
// Amazon EventBridge log stream delivers: "aws.partner/auth0.com/", the
// tenant's event source and "/auth0.logs".
const eventBridgeSourcePrefix = "aws.partner/auth0.com/"

// unwrap returns the log record that root, a JSON object, carries: the
// detail of an Amazon EventBridge event, the data of an Azure Event Grid
// event, or root itself. The record is a log object or a log-stream
// wrapper {"log_id", "data"}, which convert reads. unwrap returns a skip
// reason instead when root is an EventBridge or Event Grid event that
// carries no Auth0 log, and an error when an EventBridge event from Auth0
// has no detail object.
func unwrap(root *fastjson.Value) (*fastjson.Value, string, error) {
	switch {
	case root.Get("detail-type") != nil && root.Get("detail") != nil:
		detail := root.Get("detail")
		source := string(root.GetStringBytes("source"))
		if strings.HasPrefix(source, eventBridgeSourcePrefix) {
			if detail.Type() != fastjson.TypeObject {
				return nil, "", fmt.Errorf("detail of the EventBridge event is a JSON %s, not an object", detail.Type())
			}
			return detail, "", nil
		}
		if isLog(detail) {
			return detail, "", nil
		}
		return nil, fmt.Sprintf("EventBridge event of source %q and detail-type %q: not an Auth0 log",
			source, root.GetStringBytes("detail-type")), nil

	case isEventGridEvent(root):
		if data := root.Get("data"); isLog(data) {
			return data, "", nil
		}
		return nil, fmt.Sprintf("Event Grid event of type %q: not an Auth0 log", root.GetStringBytes("eventType")), nil
	}
	return root, "", nil
}

// isEventGridEvent reports whether root has the fields of an event in the
// Event Grid schema, id, eventType, eventTime and data, and no log type.
// An Auth0 log has no eventType or eventTime.
func isEventGridEvent(root *fastjson.Value) bool {
	return root.Get("type") == nil &&
		hasType(root, "eventType", fastjson.TypeString) &&
		hasType(root, "eventTime", fastjson.TypeString) &&
		root.Get("data") != nil && root.Get("id") != nil
}

// isLog reports whether v is an Auth0 log record: an object with a log type
// and a log_id, bare or inside a log-stream wrapper.
func isLog(v *fastjson.Value) bool {
	if v == nil || v.Type() != fastjson.TypeObject {
		return false
	}
	log := logObject(v)
	if _, err := logID(v, log); err != nil {
		return false
	}
	return text(log, "type") != ""
}

// hasType reports whether v has key with a value of type t.
func hasType(v *fastjson.Value, key string, t fastjson.Type) bool {
	field := v.Get(key)
	return field != nil && field.Type() == t
}
