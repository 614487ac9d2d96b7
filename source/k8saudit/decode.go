package k8saudit

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// recordDecoder decodes audit records into the record that decodeRecord, with
// encoding/json, makes of them, except that user.extra and annotations keep
// only the keys the importer reads and only a TokenRequest keeps its bodies.
// It reads with fastjson, which is faster, and hands to decodeRecord every
// record that fastjson would read differently or that decodeRecord rejects,
// so that the events and the reasons of rejections stay those of
// encoding/json. The zero recordDecoder
// is ready to use. It is not safe for concurrent use.
type recordDecoder struct {
	parser  fastjson.Parser
	scratch []byte
}

// decode decodes one audit record, or an EventList, which must be a JSON
// object.
func (d *recordDecoder) decode(raw []byte) (*record, error) {
	if r, ok := d.fast(raw); ok {
		return r, nil
	}
	return decodeRecord(raw)
}

// fast decodes raw with fastjson. It reports false when raw holds what this
// path leaves to encoding/json:
//
//   - invalid UTF-8 or invalid JSON, which fastjson.Validate catches where
//     fastjson's parser is lenient (NaN, numbers such as 1.2.3, unknown
//     escapes); Parse runs first because it bounds the nesting and Validate
//     does not;
//   - a \u escape of a UTF-16 surrogate, which fastjson and encoding/json
//     unescape differently when it is unpaired;
//   - a control character other than a line feed, which JSON allows only
//     as white space and fastjson.Validate (v1.6.10) misses inside a
//     string that has an escape after it;
//   - a value of the wrong type or a null inside an array or a map;
//   - a key given twice, or in another case than the field's name, which
//     encoding/json merges or matches case-insensitively;
//   - an EventList ("items"), whose items must keep their exact bytes.
func (d *recordDecoder) fast(raw []byte) (*record, bool) {
	if !utf8.Valid(raw) || hasSurrogateEscape(raw) || hasControlByte(raw) {
		return nil, false
	}
	v, err := d.parser.ParseBytes(raw)
	if err != nil {
		return nil, false
	}
	obj, err := v.Object()
	if err != nil || fastjson.ValidateBytes(raw) != nil {
		return nil, false
	}

	r := &record{}
	var requestBody, responseBody *fastjson.Value
	ok := true
	var seen fieldSet
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		switch string(key) {
		case "kind":
			ok = seen.set(0) && readText(v, &r.Kind)
		case "apiVersion":
			ok = seen.set(1) && readText(v, &r.APIVersion)
		case "auditID":
			ok = seen.set(2) && readText(v, &r.AuditID)
		case "stage":
			ok = seen.set(3) && readText(v, &r.Stage)
		case "requestURI":
			ok = seen.set(4) && readText(v, &r.RequestURI)
		case "verb":
			ok = seen.set(5) && readText(v, &r.Verb)
		case "user":
			ok = seen.set(6) && readUser(v, r)
		case "sourceIPs":
			if ok = seen.set(7); ok {
				r.SourceIPs, ok = readTexts(v)
			}
		case "userAgent":
			ok = seen.set(8) && readText(v, &r.UserAgent)
		case "objectRef":
			ok = seen.set(9) && readObjectRef(v, r)
		case "responseStatus":
			ok = seen.set(10) && d.readResponseStatus(v, r)
		case "requestObject":
			ok, requestBody = seen.set(11), v
		case "responseObject":
			ok, responseBody = seen.set(12), v
		case "requestReceivedTimestamp":
			ok = seen.set(13) && readText(v, &r.RequestReceivedTimestamp)
		case "stageTimestamp":
			ok = seen.set(14) && readText(v, &r.StageTimestamp)
		case "annotations":
			if ok = seen.set(15); ok {
				r.Annotations, ok = readTextMap(v, issuedCredentialIDKey, legacyIssuedCredentialIDKey)
			}
		default:
			// "items" too: an EventList is left to encoding/json.
			ok = !foldsToField(key, topFields)
		}
	})
	if !ok {
		return nil, false
	}

	// Only a TokenRequest's bodies are read, so only they are copied. The
	// bodies have not been visited, so MarshalTo writes them as they are
	// in raw: strings and keys keep their escapes.
	if ref := r.ObjectRef; ref != nil && text(ref.Resource) == "serviceaccounts" && text(ref.Subresource) == "token" && text(r.Verb) == "create" {
		if requestBody != nil {
			r.RequestObject = requestBody.MarshalTo(nil)
		}
		if responseBody != nil {
			r.ResponseObject = responseBody.MarshalTo(nil)
		}
	}
	return r, true
}

func readUser(v *fastjson.Value, r *record) bool {
	if v.Type() == fastjson.TypeNull {
		return true
	}
	obj, err := v.Object()
	if err != nil {
		return false
	}
	ok := true
	var seen fieldSet
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		switch string(key) {
		case "username":
			ok = seen.set(0) && readText(v, &r.User.Username)
		case "extra":
			if ok = seen.set(1); ok {
				r.User.Extra, ok = readTextsMap(v, credentialIDKey)
			}
		default:
			ok = !foldsToField(key, userFields)
		}
	})
	return ok
}

func readObjectRef(v *fastjson.Value, r *record) bool {
	if v.Type() == fastjson.TypeNull {
		return true
	}
	obj, err := v.Object()
	if err != nil {
		return false
	}
	ref := &struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	}{}
	ok := true
	var seen fieldSet
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		switch string(key) {
		case "resource":
			ok = seen.set(0) && readText(v, &ref.Resource)
		case "namespace":
			ok = seen.set(1) && readText(v, &ref.Namespace)
		case "name":
			ok = seen.set(2) && readText(v, &ref.Name)
		case "subresource":
			ok = seen.set(3) && readText(v, &ref.Subresource)
		default:
			ok = !foldsToField(key, objectRefFields)
		}
	})
	r.ObjectRef = ref
	return ok
}

func (d *recordDecoder) readResponseStatus(v *fastjson.Value, r *record) bool {
	if v.Type() == fastjson.TypeNull {
		return true
	}
	obj, err := v.Object()
	if err != nil {
		return false
	}
	status := &struct {
		Code int `json:"code"`
	}{}
	ok := true
	var seen fieldSet
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		if string(key) != "code" {
			ok = !foldsToField(key, responseStatusFields)
			return
		}
		if ok = seen.set(0); !ok {
			return
		}
		switch v.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeNumber:
			// encoding/json reads an int from the literal with
			// strconv.ParseInt, so 200.0 and 2e2 are type errors.
			d.scratch = v.MarshalTo(d.scratch[:0])
			n, err := strconv.ParseInt(string(d.scratch), 10, strconv.IntSize)
			status.Code, ok = int(n), err == nil
		default:
			ok = false
		}
	})
	r.ResponseStatus = status
	return ok
}

// readText sets *dst to a string value, and leaves it for null.
func readText(v *fastjson.Value, dst *string) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeString:
		*dst = internedText(v.GetStringBytes())
		return true
	}
	return false
}

// commonTexts are values that most records repeat, which internedText
// returns without a copy.
var commonTexts = []string{
	"Event", "audit.k8s.io/v1", stageRequestReceived, stageResponseStarted, stageResponseComplete,
	"get", "list", "watch", "create", "update", "patch", "delete",
}

// internedText returns b as a string, one of commonTexts when it is one.
func internedText(b []byte) string {
	for _, s := range commonTexts {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// readTexts reads an array of strings, or null as a nil slice.
func readTexts(v *fastjson.Value) ([]string, bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, true
	case fastjson.TypeArray:
	default:
		return nil, false
	}
	items := v.GetArray()
	out := make([]string, len(items))
	for i, item := range items {
		if item.Type() != fastjson.TypeString {
			return nil, false
		}
		out[i] = string(item.GetStringBytes())
	}
	return out, true
}

// readTextMap reads an object of strings, or null as a nil map. Only the
// keys that the importer reads are kept, but every value must be a string.
func readTextMap(v *fastjson.Value, keep ...string) (map[string]string, bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, true
	case fastjson.TypeObject:
	default:
		return nil, false
	}
	out := make(map[string]string, len(keep))
	ok := true
	v.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		if ok = ok && v.Type() == fastjson.TypeString; ok && slices.Contains(keep, string(key)) {
			out[string(key)] = string(v.GetStringBytes())
		}
	})
	return out, ok
}

// readTextsMap reads an object of arrays of strings, or null as a nil map.
// Only the keys that the importer reads are kept, but every value must be
// an array of strings.
func readTextsMap(v *fastjson.Value, keep ...string) (map[string][]string, bool) {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, true
	case fastjson.TypeObject:
	default:
		return nil, false
	}
	out := make(map[string][]string, len(keep))
	ok := true
	v.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		if ok = ok && v.Type() == fastjson.TypeArray; !ok {
			return
		}
		if !slices.Contains(keep, string(key)) {
			ok = allTexts(v)
			return
		}
		out[string(key)], ok = readTexts(v)
	})
	return out, ok
}

// allTexts reports whether the array v holds only strings.
func allTexts(v *fastjson.Value) bool {
	for _, item := range v.GetArray() {
		if item.Type() != fastjson.TypeString {
			return false
		}
	}
	return true
}

// hasSurrogateEscape reports whether raw may contain a \u escape of a UTF-16
// surrogate (\uD800 to \uDFFF).
func hasSurrogateEscape(raw []byte) bool {
	for rest := raw; ; {
		i := bytes.Index(rest, []byte(`\u`))
		if i < 0 {
			return false
		}
		rest = rest[i+2:]
		if len(rest) > 0 && (rest[0] == 'd' || rest[0] == 'D') {
			return true
		}
	}
}

// hasControlByte reports whether raw contains a control character other than
// a line feed.
func hasControlByte(raw []byte) bool {
	for _, c := range raw {
		if c < 0x20 && c != '\n' {
			return true
		}
	}
	return false
}

// The JSON names of the fields of each struct that record decodes, in the
// order of fieldSet's bits.
var (
	topFields = []string{
		"kind", "apiVersion", "auditID", "stage", "requestURI", "verb", "user", "sourceIPs",
		"userAgent", "objectRef", "responseStatus", "requestObject", "responseObject",
		"requestReceivedTimestamp", "stageTimestamp", "annotations", "items",
	}
	userFields           = []string{"username", "extra"}
	objectRefFields      = []string{"resource", "namespace", "name", "subresource"}
	responseStatusFields = []string{"code"}
)

// fieldSet records which of a struct's fields an object has set.
type fieldSet uint32

// set notes field i. It reports false when the field is set already: of a
// key given twice, encoding/json merges objects and keeps the last value,
// which the fast path does not do.
func (s *fieldSet) set(i int) bool {
	if *s&(1<<i) != 0 {
		return false
	}
	*s |= 1 << i
	return true
}

// foldsToField reports whether key, which is none of fields, matches one of
// them case-insensitively, as encoding/json matches keys to fields.
func foldsToField(key []byte, fields []string) bool {
	for _, name := range fields {
		if strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}
