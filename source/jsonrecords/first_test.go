package jsonrecords

import (
	"strings"
	"testing"
)

func TestFirst(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		want   string // "" for none
	}{
		{name: "json lines", sample: "{\"a\":1}\n{\"b\":2}\n", want: `{"a":1}`},
		{name: "json lines cut in the second record", sample: "{\"a\":1}\n{\"b\":", want: `{"a":1}`},
		{name: "json lines after blank lines and spaces", sample: "\n\r\n  {\"a\":1}  \r\n", want: `{"a":1}`},
		{name: "json lines after a bad line", sample: "not json\n{\"a\":1}\n", want: `{"a":1}`},
		{name: "byte order mark", sample: "\xef\xbb\xbf{\"a\":1}\n", want: `{"a":1}`},
		{name: "compact array", sample: `[{"a":1},{"b":2}]`, want: `{"a":1}`},
		{name: "array cut after the first element", sample: `[{"a":1},{"b":`, want: `{"a":1}`},
		{name: "pretty-printed array", sample: "[\n  {\n    \"a\": 1\n  },\n  {\n", want: "{\n    \"a\": 1\n  }"},
		{name: "array after a scalar", sample: `[1, "s", {"a":1}]`, want: `{"a":1}`},
		{name: "records wrapper", sample: "{\"records\": [\n{\"a\":1},\n{\"b\"", want: `{"a":1}`},
		{name: "value wrapper after other keys", sample: `{"@odata.context":"x","value":[{"a":1}`, want: `{"a":1}`},
		{name: "items wrapper", sample: `{"kind":"EventList","items":[{"a":1},`, want: `{"a":1}`},
		{name: "concatenated objects", sample: "{\n  \"a\": 1\n}\n{\n", want: "{\n  \"a\": 1\n}"},
		{name: "object spanning lines from its first line", sample: "{\"a\": 1,\n \"b\": 2}\n", want: "{\"a\": 1,\n \"b\": 2}"},

		{name: "empty", sample: ""},
		{name: "blank", sample: "\n \n"},
		{name: "json lines cut in the first record", sample: `{"a":1,"b":"cut`},
		{name: "array cut in the first element", sample: "[\n  {\n    \"a\": "},
		{name: "wrapper cut before its array", sample: `{"@odata.context":"x","val`},
		{name: "wrapper cut in the first element", sample: `{"value":[{"a":`},
		{name: "pretty-printed object cut", sample: "{\n  \"a\": 1,\n  \"b\": "},
		{name: "empty array", sample: "[]"},
		{name: "empty wrapper", sample: `{"value":[]}`},
		{name: "array of scalars", sample: `[1,2,3]`},
		{name: "text", sample: "2024-01-01 INFO started\nmore text\n"},
		{name: "binary", sample: "\x00\x01\x02\xff\xfe"},
		{name: "array with invalid JSON first", sample: `[{"a":x},{"b":1}]`},
		{name: "line of invalid UTF-8", sample: "{\"a\":\"\xff\"}\n"},
		{name: "deep nesting", sample: strings.Repeat("[", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, ok := First([]byte(tt.sample))
			if ok != (tt.want != "") {
				t.Fatalf("First(%.40q) ok = %v, want %v (raw %q)", tt.sample, ok, !ok, raw)
			}
			if string(raw) != tt.want {
				t.Errorf("First(%.40q) = %q, want %q", tt.sample, raw, tt.want)
			}
		})
	}
}

func TestFirstReturnsSubslice(t *testing.T) {
	sample := []byte("[\n{\"a\":1}]")
	raw, ok := First(sample)
	if !ok {
		t.Fatal("First found no record")
	}
	if &raw[0] != &sample[2] {
		t.Errorf("First returned a copy, want a sub-slice of sample")
	}
}
