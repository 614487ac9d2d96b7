package okta

import (
	"bytes"
	"fmt"

	"github.com/valyala/fastjson"
)

// eventHookType is the eventType of an Okta event hook delivery, the
// envelope whose data.events array holds System Log events.
const eventHookType = "com.okta.event_hook"

// eventBridgeSourcePrefix starts the source of every event that Okta's AWS
// EventBridge log stream delivers: "aws.partner/okta.com/" followed by the
// org and the event source name chosen when the stream was set up.
const eventBridgeSourcePrefix = "aws.partner/okta.com/"

// envelope is the layout of one JSON object record.
type envelope int

const (
	envelopeNone        envelope = iota // a System Log event itself
	envelopeEventHook                   // an event hook delivery
	envelopeEventBridge                 // an AWS EventBridge event
)

// envelopeOf returns the layout of v, a JSON object.
func envelopeOf(v *fastjson.Value) envelope {
	if string(v.GetStringBytes("eventType")) == eventHookType && v.Get("data") != nil {
		return envelopeEventHook
	}
	if v.Get("detail-type") != nil && v.Get("detail") != nil && v.Get("eventType") == nil {
		return envelopeEventBridge
	}
	return envelopeNone
}

// unwrap returns the System Log events that v, a JSON object, carries: v
// itself, the data.events of an event hook delivery, or the detail of an
// EventBridge event. It returns a skip reason instead when v is an
// envelope that carries no System Log event, and an error when an event
// hook delivery is malformed. The elements of data.events are returned as
// they are, objects or not, for the caller to reject one by one.
func unwrap(v *fastjson.Value, events []*fastjson.Value) ([]*fastjson.Value, string, error) {
	switch envelopeOf(v) {
	case envelopeEventHook:
		list := v.Get("data", "events")
		if list == nil || list.Type() != fastjson.TypeArray {
			return nil, "", &fieldError{field: "data.events", reason: "of the event hook delivery is missing or not an array"}
		}
		items, _ := list.Array()
		if len(items) == 0 {
			return nil, eventHookType + ": the delivery holds no events", nil
		}
		return append(events, items...), "", nil

	case envelopeEventBridge:
		detail := v.Get("detail")
		if isOktaEventBridge(v) {
			return append(events, detail), "", nil
		}
		return nil, fmt.Sprintf("EventBridge event of source %q and detail-type %q: not an Okta System Log event",
			v.GetStringBytes("source"), v.GetStringBytes("detail-type")), nil
	}
	return append(events, v), "", nil
}

// isOktaEventBridge reports whether v, an EventBridge event, comes from an
// Okta log stream. Either its source starts with eventBridgeSourcePrefix, or
// its detail has the uuid, published and eventType strings of a LogEvent, as
// when a rule forwards the events to another bus.
func isOktaEventBridge(v *fastjson.Value) bool {
	if bytes.HasPrefix(v.GetStringBytes("source"), []byte(eventBridgeSourcePrefix)) {
		return true
	}
	detail := v.Get("detail")
	return detail != nil && detail.Type() == fastjson.TypeObject &&
		hasType(detail, "uuid", fastjson.TypeString) &&
		hasType(detail, "published", fastjson.TypeString) &&
		hasType(detail, "eventType", fastjson.TypeString)
}
