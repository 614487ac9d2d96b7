package k8saudit

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// recordDecoder decodes audit records into the record that decodeRecord, with
// encoding/json, makes of them, except that user.extra and annotations keep
// only the keys the importer reads and only a TokenRequest keeps its bodies.
// It reads each record in one pass with a scanner, and hands to
// decodeRecord every record that the scanner would read differently or that
// decodeRecord rejects, so that the events and the reasons of rejections
// stay those of encoding/json. The zero recordDecoder is ready to use. It is
// not safe for concurrent use.
type recordDecoder struct {
	// rec and the buffers below are reused by each decode.
	rec           record
	ref           objectRef
	status        responseStatus
	sourceIPs     []string
	extra         map[string][]string
	credentialIDs []string
	annotations   map[string]string
	scratch       []byte

	// texts holds the values that records repeat, such as usernames and
	// user agents, so that each is allocated once.
	texts map[string]string
}

// Bounds of recordDecoder.texts: longer values are not kept, and the table
// starts over once it is full.
const (
	maxInternedTexts   = 4096
	maxInternedTextLen = 128
)

// decode decodes one audit record, or an EventList, which must be a JSON
// object. A record from the scanner is valid until the next call of decode.
func (d *recordDecoder) decode(raw []byte) (*record, error) {
	if r, ok := d.fast(raw); ok {
		return r, nil
	}
	return decodeRecord(raw)
}

// fast decodes raw with the scanner. It reports false when raw holds what
// this path leaves to encoding/json:
//
//   - invalid UTF-8 or invalid JSON;
//   - a \u escape of a UTF-16 surrogate, which the scanner does not
//     unescape, or an escape in a key of the objects that record maps;
//   - nesting deeper than maxScanDepth;
//   - a value of the wrong type or a null inside an array or a map;
//   - a key given twice, or in another case than the field's name, which
//     encoding/json merges or matches case-insensitively;
//   - an EventList ("items"), whose items must keep their exact bytes.
func (d *recordDecoder) fast(raw []byte) (*record, bool) {
	if !utf8.Valid(raw) {
		return nil, false
	}
	s := &scanner{data: raw}
	if null, ok := s.objectStart(); null || !ok {
		return nil, false
	}

	d.rec = record{}
	r := &d.rec
	var requestBody, responseBody []byte
	var seen fieldSet
	ok := s.members(func(key []byte) bool {
		switch string(key) {
		case "kind":
			return seen.set(0) && d.readText(s, &r.Kind, true)
		case "apiVersion":
			return seen.set(1) && d.readText(s, &r.APIVersion, true)
		case "auditID":
			return seen.set(2) && d.readText(s, &r.AuditID, false)
		case "stage":
			return seen.set(3) && d.readText(s, &r.Stage, true)
		case "requestURI":
			return seen.set(4) && d.readText(s, &r.RequestURI, false)
		case "verb":
			return seen.set(5) && d.readText(s, &r.Verb, true)
		case "user":
			return seen.set(6) && d.readUser(s, r)
		case "sourceIPs":
			return seen.set(7) && d.readSourceIPs(s, r)
		case "userAgent":
			return seen.set(8) && d.readText(s, &r.UserAgent, true)
		case "objectRef":
			return seen.set(9) && d.readObjectRef(s, r)
		case "responseStatus":
			return seen.set(10) && d.readResponseStatus(s, r)
		case "requestObject":
			var ok bool
			requestBody, ok = rawValue(s)
			return seen.set(11) && ok
		case "responseObject":
			var ok bool
			responseBody, ok = rawValue(s)
			return seen.set(12) && ok
		case "requestReceivedTimestamp":
			return seen.set(13) && d.readText(s, &r.RequestReceivedTimestamp, false)
		case "stageTimestamp":
			return seen.set(14) && d.readText(s, &r.StageTimestamp, false)
		case "annotations":
			return seen.set(15) && d.readAnnotations(s, r)
		default:
			// "items" too: an EventList is left to encoding/json.
			return !foldsToField(key, topFields) && s.skipValue(1)
		}
	})
	if !ok || !s.atEnd() {
		return nil, false
	}

	// Only a TokenRequest's bodies are read, so only they are copied, with
	// the bytes they have in raw as encoding/json copies a RawMessage.
	if ref := r.ObjectRef; ref != nil && text(ref.Resource) == "serviceaccounts" && text(ref.Subresource) == "token" && text(r.Verb) == "create" {
		r.RequestObject = bytes.Clone(requestBody)
		r.ResponseObject = bytes.Clone(responseBody)
	}
	return r, true
}

// rawValue checks the next value and returns its bytes.
func rawValue(s *scanner) ([]byte, bool) {
	s.skipSpace()
	start := s.pos
	if !s.skipValue(1) {
		return nil, false
	}
	return s.data[start:s.pos], true
}

func (d *recordDecoder) readUser(s *scanner, r *record) bool {
	null, ok := s.objectStart()
	if null || !ok {
		return ok
	}
	var seen fieldSet
	return s.members(func(key []byte) bool {
		switch string(key) {
		case "username":
			return seen.set(0) && d.readText(s, &r.User.Username, true)
		case "extra":
			return seen.set(1) && d.readExtra(s, r)
		default:
			return !foldsToField(key, userFields) && s.skipValue(2)
		}
	})
}

// readExtra reads user.extra, an object of arrays of strings, and keeps
// only the credential id. Every value must still be an array of strings.
func (d *recordDecoder) readExtra(s *scanner, r *record) bool {
	null, ok := s.objectStart()
	if null || !ok {
		return ok
	}
	if d.extra == nil {
		d.extra = make(map[string][]string, 1)
	}
	clear(d.extra)
	r.User.Extra = d.extra
	return s.members(func(key []byte) bool {
		if s.peek() != '[' {
			return false
		}
		if string(key) != credentialIDKey {
			return d.readTexts(s, nil)
		}
		if d.credentialIDs == nil {
			d.credentialIDs = make([]string, 0, 1)
		}
		ids := d.credentialIDs[:0]
		if !d.readTexts(s, &ids) {
			return false
		}
		d.credentialIDs = ids
		d.extra[credentialIDKey] = ids
		return true
	})
}

func (d *recordDecoder) readSourceIPs(s *scanner, r *record) bool {
	if d.sourceIPs == nil {
		d.sourceIPs = make([]string, 0, 2)
	}
	ips := d.sourceIPs[:0]
	if !d.readTexts(s, &ips) {
		return false
	}
	if ips != nil {
		d.sourceIPs = ips
	}
	r.SourceIPs = ips
	return true
}

// readTexts reads an array of strings into *dst, which must be empty, or
// sets *dst to nil for null. With a nil dst it only checks the array.
func (d *recordDecoder) readTexts(s *scanner, dst *[]string) bool {
	null, ok := s.arrayStart()
	if null || !ok {
		if null && dst != nil {
			*dst = nil
		}
		return ok
	}
	return s.elements(func() bool {
		if dst == nil {
			_, _, ok := s.rawString()
			return ok
		}
		var item string
		if s.peek() != '"' || !d.readText(s, &item, true) {
			return false
		}
		*dst = append(*dst, item)
		return true
	})
}

func (d *recordDecoder) readObjectRef(s *scanner, r *record) bool {
	null, ok := s.objectStart()
	if null || !ok {
		return ok
	}
	d.ref = objectRef{}
	r.ObjectRef = &d.ref
	var seen fieldSet
	return s.members(func(key []byte) bool {
		switch string(key) {
		case "resource":
			return seen.set(0) && d.readText(s, &d.ref.Resource, true)
		case "namespace":
			return seen.set(1) && d.readText(s, &d.ref.Namespace, true)
		case "name":
			return seen.set(2) && d.readText(s, &d.ref.Name, true)
		case "subresource":
			return seen.set(3) && d.readText(s, &d.ref.Subresource, true)
		default:
			return !foldsToField(key, objectRefFields) && s.skipValue(2)
		}
	})
}

func (d *recordDecoder) readResponseStatus(s *scanner, r *record) bool {
	null, ok := s.objectStart()
	if null || !ok {
		return ok
	}
	d.status = responseStatus{}
	r.ResponseStatus = &d.status
	var seen fieldSet
	return s.members(func(key []byte) bool {
		if string(key) != "code" {
			return !foldsToField(key, responseStatusFields) && s.skipValue(2)
		}
		if !seen.set(0) {
			return false
		}
		if s.null() {
			return true
		}
		literal, ok := s.number()
		if !ok {
			return false
		}
		d.status.Code, ok = parseCode(literal)
		return ok
	})
}

// parseCode reads an integer literal as encoding/json reads it into an int,
// with strconv.ParseInt, so that 200.0 and 2e2 are not integers. It reports
// false for a literal of more than 18 digits, which might not fit.
func parseCode(literal []byte) (int, bool) {
	negative := literal[0] == '-'
	if negative {
		literal = literal[1:]
	}
	if len(literal) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range literal {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if negative {
		n = -n
	}
	return n, true
}

// readAnnotations reads an object of strings and keeps only the issued
// credential id. Every value must still be a string.
func (d *recordDecoder) readAnnotations(s *scanner, r *record) bool {
	null, ok := s.objectStart()
	if null || !ok {
		return ok
	}
	if d.annotations == nil {
		d.annotations = make(map[string]string, 1)
	}
	clear(d.annotations)
	r.Annotations = d.annotations
	return s.members(func(key []byte) bool {
		if s.peek() != '"' {
			return false
		}
		switch string(key) {
		case issuedCredentialIDKey, legacyIssuedCredentialIDKey:
			var value string
			if !d.readText(s, &value, false) {
				return false
			}
			d.annotations[string(key)] = value
			return true
		}
		_, _, ok := s.rawString()
		return ok
	})
}

// readText sets *dst to a string value, and leaves it for null. intern is
// true for the values that many records repeat.
func (d *recordDecoder) readText(s *scanner, dst *string, intern bool) bool {
	if s.null() {
		return true
	}
	contents, escaped, ok := s.rawString()
	if !ok {
		return false
	}
	if escaped {
		d.scratch = unescape(d.scratch[:0], contents)
		contents = d.scratch
	}
	if intern {
		*dst = d.intern(contents)
	} else {
		*dst = string(contents)
	}
	return true
}

// intern returns b as a string, allocated only the first time.
func (d *recordDecoder) intern(b []byte) string {
	if s, ok := d.texts[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(s) > maxInternedTextLen {
		return s
	}
	if d.texts == nil {
		d.texts = make(map[string]string)
	}
	if len(d.texts) >= maxInternedTexts {
		clear(d.texts)
	}
	d.texts[s] = s
	return s
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

// foldsToField reports whether key, which equals none of fields, matches one
// of them case-insensitively, as encoding/json matches keys to fields.
func foldsToField(key []byte, fields []string) bool {
	// An ASCII key folds only to a name of its length, because every name
	// is ASCII. A key with other characters may fold to a shorter name:
	// the Kelvin sign K (3 bytes) folds to k.
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for _, name := range fields {
		if ascii && len(key) != len(name) {
			continue
		}
		if strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}
