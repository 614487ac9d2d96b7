package okta

import (
	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// Detect reports whether sample, the first bytes of a file, starts with an
// Okta System Log event, in any layout that Parse reads. The first record
// must be a JSON object with the string fields eventType and published, an
// actor object, and a uuid or a legacyEventType.
func Detect(sample []byte) bool {
	raw, ok := jsonrecords.First(sample)
	if !ok {
		return false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return false
	}
	return hasType(v, "eventType", fastjson.TypeString) &&
		hasType(v, "published", fastjson.TypeString) &&
		hasType(v, "actor", fastjson.TypeObject) &&
		(hasType(v, "uuid", fastjson.TypeString) || v.Exists("legacyEventType"))
}

// hasType reports whether v has key with a value of type t.
func hasType(v *fastjson.Value, key string, t fastjson.Type) bool {
	field := v.Get(key)
	return field != nil && field.Type() == t
}
