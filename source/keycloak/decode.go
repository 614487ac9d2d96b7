package keycloak

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// jsonDecoder decodes JSON objects into the values that encoding/json with
// UseNumber makes: map[string]any, []any, string, json.Number, bool and nil.
// It reads with fastjson, which is faster, and leaves to
// encoding/json the text that fastjson would read differently, so that both
// give the same result and the same error reasons. The zero jsonDecoder is
// ready to use. It is not safe for concurrent use.
type jsonDecoder struct {
	parser fastjson.Parser
}

// object decodes text that must be one JSON object.
func (d *jsonDecoder) object(text string) (map[string]any, error) {
	if obj, ok := d.fastObject(text); ok {
		return obj, nil
	}
	return decodeObject(text)
}

// fastObject decodes text with fastjson. It reports false when text is not
// a JSON object that fastjson decodes as encoding/json does. fastjson's
// parser accepts some invalid JSON (NaN, numbers such as 1.2.3, unknown
// escapes), which fastjson.Validate rejects, and it stops at
// fastjson.MaxDepth levels of nesting, where encoding/json allows 10,000.
// Invalid UTF-8, which encoding/json replaces with U+FFFD, is left to it.
// Parse runs first because Validate does not bound its recursion. Text with
// a tab or carriage return takes the slow path too, because Validate may
// miss them inside strings.
func (d *jsonDecoder) fastObject(text string) (map[string]any, bool) {
	if !utf8.ValidString(text) || hasSurrogateEscape(text) || hasControlByte(text) {
		return nil, false
	}
	v, err := d.parser.Parse(text)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, false
	}
	if fastjson.Validate(text) != nil {
		return nil, false
	}
	return decodedValue(v).(map[string]any), true
}

// hasSurrogateEscape reports whether text may contain a \u escape of a
// UTF-16 surrogate (\uD800 to \uDFFF). fastjson keeps an unpaired one as it
// is written, and encoding/json replaces it with U+FFFD.
func hasSurrogateEscape(text string) bool {
	for rest := text; ; {
		i := strings.Index(rest, `\u`)
		if i < 0 {
			return false
		}
		rest = rest[i+2:]
		if rest != "" && (rest[0] == 'd' || rest[0] == 'D') {
			return true
		}
	}
}

// hasControlByte reports whether text contains a control character other
// than a line feed. JSON allows them only as white space between tokens, and
// fastjson.Validate (v1.6.10) misses one inside a string that has an escape
// after it.
func hasControlByte(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 && text[i] != '\n' {
			return true
		}
	}
	return false
}

// decodedValue copies v out of the parser's buffer into the value
// encoding/json would decode. When a key repeats, the last value wins, as in
// encoding/json.
func decodedValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		obj := v.GetObject()
		m := make(map[string]any, obj.Len())
		obj.Visit(func(key []byte, v *fastjson.Value) {
			m[string(key)] = decodedValue(v)
		})
		return m
	case fastjson.TypeArray:
		items := v.GetArray()
		a := make([]any, len(items))
		for i, item := range items {
			a[i] = decodedValue(item)
		}
		return a
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return json.Number(v.String())
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	default:
		return nil
	}
}

// decodeObject decodes text that must be one JSON object.
func decodeObject(text string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: text after the JSON value at byte %d", errInvalidJSON, dec.InputOffset()+1)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the JSON value is %s, want an object", errWrongType, jsonKind(v))
	}
	return obj, nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%w at byte %d: %v", errInvalidJSON, syntax.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the text ends inside a value (truncated record?)", errInvalidJSON)
	default:
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
}

// jsonKind names the JSON type of a decoded value, for error reasons.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
