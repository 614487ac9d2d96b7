package okta

import (
	"regexp"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// Detect reports whether sample, the first bytes of a file, starts with an
// Okta System Log event, in any layout that Parse reads. The first record
// must be a JSON object with the string fields eventType and published, an
// actor object, and a uuid or a legacyEventType. An event hook delivery or
// an EventBridge event is recognised by its first System Log event.
//
// An event hook delivery often exceeds the sample, because Okta batches
// events into one request. A sample that is cut inside its first record is
// therefore also recognised when that record opens with the fields of an
// event hook delivery and "eventType": "com.okta.event_hook".
func Detect(sample []byte) bool {
	raw, ok := jsonrecords.First(sample)
	if !ok {
		return eventHookStart.Match(sample)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return false
	}
	switch envelopeOf(v) {
	case envelopeEventHook:
		events := v.GetArray("data", "events")
		return len(events) > 0 && isLogEvent(events[0])
	case envelopeEventBridge:
		return isLogEvent(v.Get("detail"))
	}
	return isLogEvent(v)
}

// eventHookStart matches the start of an event hook delivery, alone or as
// the first element of an array, up to its eventType. The fields before
// eventType must be strings, as the envelope's are.
//
// NOTE: a delivery whose "data" comes before its eventType, and that is
// longer than the sample, is not recognised.
var eventHookStart = regexp.MustCompile(`^(?:\xef\xbb\xbf)?\s*\[?\s*\{(?:\s*"[A-Za-z]+"\s*:\s*"[^"\\]*"\s*,)*\s*"eventType"\s*:\s*"com\.okta\.event_hook"`)

// isLogEvent reports whether v is a System Log event as Detect defines it.
func isLogEvent(v *fastjson.Value) bool {
	return v != nil && v.Type() == fastjson.TypeObject &&
		hasType(v, "eventType", fastjson.TypeString) &&
		hasType(v, "published", fastjson.TypeString) &&
		hasType(v, "actor", fastjson.TypeObject) &&
		(hasType(v, "uuid", fastjson.TypeString) || v.Exists("legacyEventType"))
}

// hasType reports whether v has key with a value of type t.
func hasType(v *fastjson.Value, key string, t fastjson.Type) bool {
	field := v.Get(key)
	return field != nil && field.Type() == t
}
