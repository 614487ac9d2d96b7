package jsonl

import (
	"encoding/json"
	"strings"
	"testing"
)

// validityExtractor maps a few paths, so that the syntax check runs both in
// the walk of mapped values and in the skipping of the others.
func validityExtractor(tb testing.TB) *extractor {
	tb.Helper()
	m := mustMapping(tb, "jti=a.b[0],time=t,ip=c")
	return newExtractor(&m)
}

func TestExtractSyntax(t *testing.T) {
	tests := []struct {
		name   string
		record string
	}{
		{"empty object", `{}`},
		{"empty array", `[]`},
		{"spaces everywhere", " { \"a\" : { \"b\" : [ 1 , 2 ] } } \t"},
		{"scalar string", `"text"`},
		{"scalar number", `-12.5e+3`},
		{"literals", `{"x":[true,false,null]}`},
		{"escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9"}`},
		{"empty input", ``},
		{"only spaces", `   `},
		{"leading zero", `{"a":01}`},
		{"bare minus", `{"a":-}`},
		{"dot without digits", `{"a":1.}`},
		{"exponent without digits", `{"a":1e}`},
		{"plus sign", `{"a":+1}`},
		{"control character in string", "{\"a\":\"x\x01y\"}"},
		{"bad unicode escape", `{"a":"\u12g4"}`},
		{"short unicode escape", `{"a":"\u12"}`},
		{"unknown escape", `{"a":"\q"}`},
		{"unterminated string", `{"a":"abc}`},
		{"trailing comma in array", `{"a":{"b":[1,]}}`},
		{"trailing comma in object", `{"a":1,}`},
		{"missing colon", `{"a" 1}`},
		{"unquoted key", `{a:1}`},
		{"mismatched brackets", `{"a":[1}`},
		{"misspelled literal", `{"a":tru}`},
		{"two values", `{"a":1}{"b":2}`},
		{"text after value", `{"a":1} x`},
		{"unclosed object", `{"a":{"b":[1]}`},
		{"missing value", `{"a":}`},
		{"comma without element", `[,1]`},
		{"invalid UTF-8 is allowed", "{\"a\":\"\xff\"}"},
		{"deep but allowed", strings.Repeat("[", 9999) + strings.Repeat("]", 9999)},
		{"too deep", strings.Repeat("[", 10001) + strings.Repeat("]", 10001)},
	}
	x := validityExtractor(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := json.Valid([]byte(tt.record))

			got := x.extract([]byte(tt.record))

			if got != want {
				t.Errorf("extract(%.40q) valid = %v, want %v as json.Valid", tt.record, got, want)
			}
		})
	}
}

// FuzzExtractSyntax checks the extractor's syntax check against json.Valid.
func FuzzExtractSyntax(f *testing.F) {
	for _, name := range []string{"apigw-http-api.jsonl", "envoy-access.jsonl"} {
		for line := range strings.SplitSeq(readFile(f, name), "\n") {
			f.Add(line)
		}
	}
	f.Add(`{"a":{"b":["x",{"c":[1e5,-0.5,true,null]}]},"t":"\u00e9"}`)
	x := validityExtractor(f)

	f.Fuzz(func(t *testing.T, record string) {
		want := json.Valid([]byte(record))

		got := x.extract([]byte(record))

		if got != want {
			t.Errorf("extract(%q) valid = %v, want %v as json.Valid", record, got, want)
		}
	})
}
