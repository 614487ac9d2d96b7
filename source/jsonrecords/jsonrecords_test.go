package jsonrecords

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/source"
)

func TestReadLayouts(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{
			name:  "json lines",
			input: "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n",
			want:  []string{`1 {"a":1}`, `2 {"b":2}`, `3 {"c":3}`},
		},
		{
			name:  "json lines without final newline",
			input: "{\"a\":1}\n{\"b\":2}",
			want:  []string{`1 {"a":1}`, `2 {"b":2}`},
		},
		{
			name:  "json lines with blank lines",
			input: "\n{\"a\":1}\n\n   \n\t\n{\"b\":2}\n\n",
			want:  []string{`2 {"a":1}`, `6 {"b":2}`},
		},
		{
			name:  "json lines with CRLF",
			input: "{\"a\":1}\r\n\r\n{\"b\":2}\r\n",
			want:  []string{`1 {"a":1}`, `3 {"b":2}`},
		},
		{
			name:  "json lines with spaces around records",
			input: "  {\"a\":1}  \n\t{\"b\":2}\t\n",
			want:  []string{`1 {"a":1}`, `2 {"b":2}`},
		},
		{
			name:  "byte order mark",
			input: "\xef\xbb\xbf{\"a\":1}\n{\"b\":2}\n",
			want:  []string{`1 {"a":1}`, `2 {"b":2}`},
		},
		{
			name:  "compact array",
			input: `[{"a":1},{"b":2},{"c":[1,{"d":null}]}]`,
			want:  []string{`1 {"a":1}`, `1 {"b":2}`, `1 {"c":[1,{"d":null}]}`},
		},
		{
			name:  "pretty-printed array",
			input: "[\n  {\n    \"a\": 1\n  },\n  {\n    \"b\": [\n      2\n    ]\n  }\n]\n",
			want:  []string{"2 {\n    \"a\": 1\n  }", "5 {\n    \"b\": [\n      2\n    ]\n  }"},
		},
		{
			name:  "array with CRLF",
			input: "[\r\n  {\"a\": 1},\r\n  {\"b\": 2}\r\n]\r\n",
			want:  []string{`2 {"a": 1}`, `3 {"b": 2}`},
		},
		{
			name:  "array with byte order mark",
			input: "\xef\xbb\xbf[{\"a\":1}]",
			want:  []string{`1 {"a":1}`},
		},
		{
			name:  "empty array",
			input: "[]\n",
			want:  nil,
		},
		{
			name:  "arrays one after another",
			input: "[{\"a\":1}]\n[{\"b\":2},\n{\"c\":3}]\n",
			want:  []string{`1 {"a":1}`, `2 {"b":2}`, `3 {"c":3}`},
		},
		{
			name:  "records wrapper",
			input: "{\"records\": [\n{\"a\":1},\n{\"b\":2}\n]}\n",
			want:  []string{`2 {"a":1}`, `3 {"b":2}`},
		},
		{
			name:  "value wrapper after other keys",
			input: "{\n  \"@odata.context\": \"https://graph.example.com/$metadata\",\n  \"value\": [\n    {\"a\": 1},\n    {\"b\": 2}\n  ],\n  \"@odata.nextLink\": \"https://graph.example.com/next\"\n}\n",
			want:  []string{`4 {"a": 1}`, `5 {"b": 2}`},
		},
		{
			name:  "items wrapper with nested keys",
			input: `{"kind":"List","metadata":{"value":[{"x":1}]},"items":[{"a":1}],"value":[{"ignored":1}]}`,
			want:  []string{`1 {"a":1}`},
		},
		{
			name:  "empty wrapper",
			input: `{"value":[]}`,
			want:  nil,
		},
		{
			name:  "one wrapper a line",
			input: "{\"records\":[{\"a\":1},{\"b\":2}]}\n{\"records\":[{\"c\":3}]}\n",
			want:  []string{`1 {"a":1}`, `1 {"b":2}`, `2 {"c":3}`},
		},
		{
			name:  "wrapper key with a value that is not an array",
			input: "{\n\"value\": 5,\n\"a\": 1\n}\n",
			want:  []string{"1 {\n\"value\": 5,\n\"a\": 1\n}"},
		},
		{
			name:  "concatenated pretty-printed objects",
			input: "{\n  \"a\": 1\n}\n{\n  \"b\": {\n    \"c\": 2\n  }\n}\n",
			want:  []string{"1 {\n  \"a\": 1\n}", "4 {\n  \"b\": {\n    \"c\": 2\n  }\n}"},
		},
		{
			name:  "object spanning lines that starts on its first line",
			input: "{\"a\": 1,\n \"b\": 2}\n{\"c\": 3}\n",
			want:  []string{"1 {\"a\": 1,\n \"b\": 2}", `3 {"c": 3}`},
		},
		{
			name:  "concatenated objects with blank lines and CRLF",
			input: "{\r\n\"a\": 1\r\n}\r\n\r\n\r\n{\r\n\"b\": 2\r\n}\r\n",
			want:  []string{"1 {\r\n\"a\": 1\r\n}", "6 {\r\n\"b\": 2\r\n}"},
		},
		{
			name:  "empty file",
			input: "",
			want:  nil,
		},
		{
			name:  "blank file",
			input: "\n\n  \r\n",
			want:  nil,
		},
		{
			name:  "escapes and unicode in strings",
			input: "{\"a\":\"q\\\"uote \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\uD83D\\uDE00\",\"b\":\"é😀\"}\n",
			want:  []string{"1 {\"a\":\"q\\\"uote \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\uD83D\\uDE00\",\"b\":\"é😀\"}"},
		},
		{
			name:  "numbers",
			input: `{"a":[0,-0,1.5,-2e10,3E+2,4e-3,123456789012345678901234567890]}`,
			want:  []string{`1 {"a":[0,-0,1.5,-2e10,3E+2,4e-3,123456789012345678901234567890]}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLists(t, "Read", readString(t, tt.input), tt.want)
		})
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{
			name:  "malformed line",
			input: "{\"a\":1}\n{\"b\":x}\n{\"c\":3}\n",
			want:  []string{`1 {"a":1}`, `reject 2: not a JSON object: invalid character 'x' at offset 5`, `3 {"c":3}`},
		},
		{
			name:  "cut line",
			input: "{\"a\":1}\n{\"b\":\"unterminated\n{\"c\":3}\n",
			want:  []string{`1 {"a":1}`, `reject 2: not a JSON object: unexpected end of JSON at offset 18`, `3 {"c":3}`},
		},
		{
			name:  "first line malformed",
			input: "{\"a\":1\n{\"b\":2}\n",
			want:  []string{`reject 1: not a JSON object: unexpected end of JSON at offset 6`, `2 {"b":2}`},
		},
		{
			name:  "lines that are not objects",
			input: "{\"a\":1}\n[1,2]\n\"text\"\n42\ntrue\nnull\n{\"b\":2}\n",
			want: []string{
				`1 {"a":1}`,
				`reject 2: not a JSON object but an array`,
				`reject 3: not a JSON object but a string`,
				`reject 4: not a JSON object but a number`,
				`reject 5: not a JSON object but a boolean`,
				`reject 6: not a JSON object but null`,
				`7 {"b":2}`,
			},
		},
		{
			name:  "text after the object",
			input: "{\"a\":1} trailing\n{\"a\":1}{\"b\":2}\n",
			want: []string{
				`reject 1: not a JSON object: invalid character 't' after the JSON value at offset 8`,
				`reject 2: not a JSON object: invalid character '{' after the JSON value at offset 7`,
			},
		},
		{
			name:  "text log",
			input: "2024-01-01 INFO started\n{\"a\":1}\n",
			want:  []string{`reject 1: not a JSON object: invalid character '-' after the JSON value at offset 4`, `2 {"a":1}`},
		},
		{
			name:  "invalid UTF-8 in a string",
			input: "{\"a\":1}\n{\"b\":\"x\xffy\"}\n{\"c\":3}\n",
			want:  []string{`1 {"a":1}`, `reject 2: invalid UTF-8 at offset 7`, `3 {"c":3}`},
		},
		{
			name:  "control character in a string",
			input: "{\"a\":\"x\x01y\"}\n{\"c\":3}\n",
			want:  []string{`reject 1: not a JSON object: invalid character byte 0x01 at offset 7`, `2 {"c":3}`},
		},
		{
			name:  "invalid escape",
			input: "{\"a\":\"\\x41\"}\n{\"b\":\"\\u12g4\"}\n",
			want: []string{
				`reject 1: not a JSON object: invalid character 'x' at offset 7`,
				`reject 2: not a JSON object: invalid character 'g' at offset 10`,
			},
		},
		{
			name:  "invalid numbers",
			input: "{\"a\":01}\n{\"a\":1.}\n{\"a\":-}\n{\"a\":1e}\n{\"a\":+1}\n",
			want: []string{
				`reject 1: not a JSON object: invalid character '1' at offset 6`,
				`reject 2: not a JSON object: invalid character '}' at offset 7`,
				`reject 3: not a JSON object: invalid character '}' at offset 6`,
				`reject 4: not a JSON object: invalid character '}' at offset 7`,
				`reject 5: not a JSON object: invalid character '+' at offset 5`,
			},
		},
		{
			name:  "invalid literals and punctuation",
			input: "{\"a\":tru}\n{\"a\":1,}\n{\"a\" 1}\n{\"a\":[1 2]}\n{\"a\":[1}\n{'a':1}\n",
			want: []string{
				`reject 1: not a JSON object: invalid character '}' at offset 8`,
				`reject 2: not a JSON object: invalid character '}' at offset 7`,
				`reject 3: not a JSON object: invalid character '1' at offset 5`,
				`reject 4: not a JSON object: invalid character '2' at offset 8`,
				`reject 5: not a JSON object: invalid character '}' at offset 7`,
				`reject 6: not a JSON object: invalid character '\'' at offset 1`,
			},
		},
		{
			name:  "array element not an object",
			input: "[\n{\"a\":1},\n2,\n\"s\",\n[{\"b\":2}],\n{\"c\":3}\n]\n",
			want: []string{
				`2 {"a":1}`,
				`reject 3: array element is a number, not a JSON object`,
				`reject 4: array element is a string, not a JSON object`,
				`reject 5: array element is an array, not a JSON object`,
				`6 {"c":3}`,
			},
		},
		{
			name:  "syntax error in an array stops the file",
			input: "[\n{\"a\":1},\n{\"b\":\n  x},\n{\"c\":3}\n]\n",
			want: []string{
				`2 {"a":1}`,
				`reject 4: invalid JSON: invalid character 'x'; the rest of the file is not read`,
			},
		},
		{
			name:  "missing comma in an array stops the file",
			input: "[\n{\"a\":1}\n{\"b\":2}\n]\n",
			want: []string{
				`2 {"a":1}`,
				`reject 3: invalid JSON: invalid character '{' after an array element; the rest of the file is not read`,
			},
		},
		{
			name:  "trailing comma in an array stops the file",
			input: "[{\"a\":1},]",
			want: []string{
				`1 {"a":1}`,
				`reject 1: invalid JSON: invalid character ']'; the rest of the file is not read`,
			},
		},
		{
			name:  "invalid UTF-8 in an array element",
			input: "[{\"a\":\"\xc3\x28\"},\n{\"b\":2}]",
			want:  []string{`reject 1: invalid UTF-8 at offset 6`, `2 {"b":2}`},
		},
		{
			name:  "array cut after an element",
			input: "[\n{\"a\":1},\n{\"b\":2}\n",
			want:  []string{`2 {"a":1}`, `3 {"b":2}`, `reject 4: the file ends inside a JSON array`},
		},
		{
			name:  "array cut inside an element",
			input: "[\n{\"a\":1},\n{\"b\":",
			want:  []string{`2 {"a":1}`, `reject 3: the file ends inside this record`},
		},
		{
			name:  "pretty-printed object cut",
			input: "{\n  \"a\": 1\n}\n{\n  \"b\": ",
			want:  []string{"1 {\n  \"a\": 1\n}", `reject 4: the file ends inside this record`},
		},
		{
			name:  "wrapper cut",
			input: "{\"value\": [\n{\"a\":1},\n{\"b\":2}",
			want:  []string{`2 {"a":1}`, `3 {"b":2}`, `reject 3: the file ends inside a JSON array`},
		},
		{
			name:  "wrapper with invalid JSON after its array",
			input: "{\"value\": [{\"a\":1}],\n\"next\": x}\n",
			want:  []string{`1 {"a":1}`, `reject 2: invalid JSON: invalid character 'x'; the rest of the file is not read`},
		},
		{
			name:  "top-level values that are not objects",
			input: "[{\"a\":1}]\n42\n\"s\"\n{\n\"b\": 2\n}\n",
			want: []string{
				`1 {"a":1}`,
				`reject 2: top-level value is a number, not a JSON object`,
				`reject 3: top-level value is a string, not a JSON object`,
				"4 {\n\"b\": 2\n}",
			},
		},
		{
			name:  "deep nesting in a line",
			input: strings.Repeat("{\"a\":", 10000) + "1" + strings.Repeat("}", 10000) + "\n{\"b\":2}\n",
			want:  []string{`reject 1: not a JSON object: JSON nested deeper than 299 levels at offset 1495`, `2 {"b":2}`},
		},
		{
			name:  "deep nesting in an array element",
			input: "[{\"a\":1},\n" + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + ",\n{\"b\":2}]",
			want:  []string{`1 {"a":1}`, `reject 2: JSON nested deeper than 299 levels at offset 299`, `3 {"b":2}`},
		},
		{
			name:  "deep nesting without end",
			input: "[" + strings.Repeat("[", 10000),
			want:  []string{`reject 1: JSON nested deeper than 299 levels at offset 299`},
		},
		{
			name:  "nesting at the limit",
			input: "{\"a\":" + strings.Repeat("[", 298) + strings.Repeat("]", 298) + "}\n" + "{\"a\":" + strings.Repeat("[", 299) + strings.Repeat("]", 299) + "}\n",
			want: []string{
				"1 {\"a\":" + strings.Repeat("[", 298) + strings.Repeat("]", 298) + "}",
				"reject 2: not a JSON object: JSON nested deeper than 299 levels at offset 303",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLists(t, "Read", readString(t, tt.input), tt.want)
		})
	}
}

func TestReadLongLine(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		fill   byte
		suffix string
		want   []string
	}{
		{
			name:   "json lines",
			prefix: "{\"a\":1}\n{\"big\":\"",
			suffix: "\"}\n{\"b\":2}\n",
			want:   []string{`1 {"a":1}`, `reject 2: line is longer than the limit of 4 MiB`, `3 {"b":2}`},
		},
		{
			name:   "array",
			prefix: "[{\"a\":1},\n{\"big\":\"",
			suffix: "\"},\n{\"b\":2}]",
			want:   []string{`1 {"a":1}`, `reject 2: record is longer than the limit of 4 MiB`, `3 {"b":2}`},
		},
		{
			name:   "array of one long string",
			prefix: "[{\"a\":1},\n\"",
			suffix: "\",\n{\"b\":2}]",
			want:   []string{`1 {"a":1}`, `reject 2: record is longer than the limit of 4 MiB`, `3 {"b":2}`},
		},
		{
			name:   "array of one long number",
			prefix: "[{\"a\":1},\n1",
			fill:   '1',
			suffix: ",\n{\"b\":2}]",
			want:   []string{`1 {"a":1}`, `reject 2: record is longer than the limit of 4 MiB`, `3 {"b":2}`},
		},
		{
			name:   "pretty-printed objects",
			prefix: "{\n\"a\": 1\n}\n{\n\"big\": \"",
			suffix: "\"\n}\n{\n\"b\": 2\n}\n",
			want:   []string{"1 {\n\"a\": 1\n}", `reject 4: record is longer than the limit of 4 MiB`, "7 {\n\"b\": 2\n}"},
		},
		{
			name:   "wrapper",
			prefix: "{\"value\": [{\"a\":1},\n{\"big\":\"",
			suffix: "\"},\n{\"b\":2}]}",
			want:   []string{`1 {"a":1}`, `reject 2: record is longer than the limit of 4 MiB`, `3 {"b":2}`},
		},
		{
			// The wrapper's array is not found within the limit.
			name:   "wrapper with a long key before its array",
			prefix: "{\n\"next\": \"",
			suffix: "\",\n\"value\": [{\"a\":1}]}\n",
			want:   []string{`reject 1: record is longer than the limit of 4 MiB`},
		},
		{
			name:   "long line first",
			prefix: "{\"big\": \"",
			suffix: "\"}\n{\"a\":1}\n",
			want:   []string{`reject 1: line is longer than the limit of 4 MiB`, `2 {"a":1}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fill := tt.fill
			if fill == 0 {
				fill = 'x'
			}
			for _, size := range []int{source.MaxLineBytes, 10 << 20} {
				in := &repeatReader{prefix: tt.prefix, fill: fill, n: size, suffix: tt.suffix}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				got, err := readAll(t, in)
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatalf("Read error = %v, want nil", err)
				}
				equalLists(t, "Read", got, tt.want)
				// The buffers grow to the limit and stop there, however
				// long the record. Growing a slice to 4 MiB by appends
				// allocates about five times that in all.
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*source.MaxLineBytes {
					t.Errorf("Read of a %d-byte record allocated %d bytes, want at most %d", size, alloc, 6*source.MaxLineBytes)
				}
			}
		})
	}
}

func TestReadEndlessRecord(t *testing.T) {
	// The record is 1 GiB, far past source.MaxSkipBytes: a reader that
	// skips to its end reports no stop.
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{
			name:   "json lines",
			prefix: "{\"a\":1}\n{\"big\":\"",
			want:   []string{`1 {"a":1}`, `reject 2: line too long: no line end in its first `},
		},
		{
			name:   "array",
			prefix: "[{\"a\":1},\n{\"big\":\"",
			want: []string{`1 {"a":1}`, `reject 2: record is longer than the limit of 4 MiB`,
				`reject 2: the record has no end in its first 64 MiB; the rest of the file is not read`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &repeatReader{prefix: tt.prefix, fill: 'x', n: 1 << 30}
			c := &collector{}
			err := Read(context.Background(), source.Input{Reader: in, Name: "log.json"}, c, c.record)
			if err != nil {
				t.Fatalf("Read error = %v, want nil", err)
			}
			if len(c.got) != len(tt.want) {
				t.Fatalf("Read reported %q, want %d results", c.got, len(tt.want))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(c.got[i], want) {
					t.Errorf("Read result %d = %q, want it to start with %q", i, c.got[i], want)
				}
			}
		})
	}
}

func TestReadLongestRecord(t *testing.T) {
	// A record of exactly source.MaxLineBytes bytes is read in every layout.
	field := strings.Repeat("x", source.MaxLineBytes-len(`{"a":""}`))
	record := `{"a":"` + field + `"}`
	for _, input := range []string{record + "\n", "[" + record + "]", "{\"value\":[" + record + "]}", "{\n\"value\":[\n" + record + "]}"} {
		got, err := readAll(t, strings.NewReader(input))
		if err != nil {
			t.Fatalf("Read error = %v, want nil", err)
		}
		if len(got) != 1 || !strings.HasSuffix(got[0], record) {
			t.Errorf("Read(%.20q...) = %d results, want the one record of %d bytes", input, len(got), len(record))
		}
	}
}

func TestReadBinary(t *testing.T) {
	// Bytes from a fixed linear congruential sequence, so failures repeat.
	data := make([]byte, 1<<20)
	x := uint32(12345)
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	for _, input := range [][]byte{data, append([]byte("["), data...), append([]byte("{\n"), data...)} {
		c := &collector{}
		err := Read(context.Background(), source.Input{Reader: bytes.NewReader(input), Name: "bin"}, c, c.record)
		if err != nil {
			t.Fatalf("Read(binary) error = %v, want nil", err)
		}
		for _, g := range c.got {
			if !strings.HasPrefix(g, "reject ") {
				t.Errorf("Read(binary) passed a record: %.80q", g)
			}
		}
		if len(c.got) == 0 {
			t.Errorf("Read(binary %.1q...) reported nothing, want rejections", input)
		}
	}
}

func TestReadSlowReader(t *testing.T) {
	inputs := map[string]string{
		"json lines": "{\"a\":1}\n{\"b\":2}\n",
		"array":      "[\n{\"a\":1},\n{\"b\":2}\n]",
		"wrapper":    "{\"x\":[1],\"value\":[\n{\"a\":1},\n{\"b\":2}\n],\"y\":{}}",
	}
	for name, input := range inputs {
		got, err := readAll(t, oneByteReader{strings.NewReader(input)})
		if err != nil {
			t.Fatalf("%s: Read error = %v, want nil", name, err)
		}
		equalLists(t, name, got, readString(t, input))
		if len(got) != 2 {
			t.Errorf("%s: Read = %q, want two records", name, got)
		}
	}
}

func TestReadReaderError(t *testing.T) {
	for _, errDisk := range []error{errors.New("disk failed"), io.ErrUnexpectedEOF} {
		testReadReaderError(t, errDisk)
	}
}

// testReadReaderError checks that errDisk ends Read after the records before
// it. io.ErrUnexpectedEOF, as a gzip stream cut short returns it, must not
// read as the end of the file.
func testReadReaderError(t *testing.T, errDisk error) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{name: "json lines", data: "{\"a\":1}\n{\"b\":2}\n{\"c\"", want: []string{`1 {"a":1}`, `2 {"b":2}`}},
		{name: "array", data: "[{\"a\":1},\n{\"b\":2},\n{\"c\"", want: []string{`1 {"a":1}`, `2 {"b":2}`}},
		{name: "array between elements", data: "[{\"a\":1},\n{\"b\":2}", want: []string{`1 {"a":1}`, `2 {"b":2}`}},
		{name: "wrapper", data: "{\"value\":[{\"a\":1},\n{\"b\":2}],", want: []string{`1 {"a":1}`, `2 {"b":2}`}},
		{name: "at once", data: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{0, headSize + 10} {
				// Padding with spaces moves the error past the head.
				data := strings.Repeat(" ", size) + tt.data
				if tt.data == "" {
					data = ""
				}
				got, err := readAll(t, &failingReader{data: []byte(data), err: errDisk})
				if !errors.Is(err, errDisk) {
					t.Fatalf("Read error = %v, want %v", err, errDisk)
				}
				if !strings.Contains(err.Error(), "log.json") {
					t.Errorf("Read error = %q, want the file name in it", err)
				}
				equalLists(t, "Read", got, tt.want)
			}
		})
	}
}

func TestReadContextCancelled(t *testing.T) {
	input := strings.Repeat("{\"a\":1}\n", 1000)
	for name, input := range map[string]string{"json lines": input, "array": "[" + strings.Repeat("{\"a\":1},", 1000) + "{}]"} {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := Read(ctx, source.Input{Reader: strings.NewReader(input), Name: "f"}, &collector{}, func(int, []byte) error {
			if n++; n == 10 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Read error = %v, want context.Canceled", name, err)
		}
		if n >= 1000 {
			t.Errorf("%s: Read passed %d records after cancel, want it to stop early", name, n)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Read(ctx, source.Input{Reader: strings.NewReader(input), Name: "f"}, &collector{}, func(int, []byte) error {
		t.Error("Read called fn with ctx cancelled before the start")
		return nil
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("Read error = %v, want context.Canceled", err)
	}
}

func TestReadCallbackError(t *testing.T) {
	errFull := errors.New("store full")
	inputs := map[string]string{
		"json lines": "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n",
		"array":      "[{\"a\":1},{\"b\":2},{\"c\":3}]",
		"wrapper":    "{\"value\":[{\"a\":1},{\"b\":2},{\"c\":3}]}",
		"pretty":     "{\n\"a\":1\n}\n{\n\"b\":2\n}\n{\n\"c\":3\n}\n",
	}
	for name, input := range inputs {
		calls := 0
		err := Read(context.Background(), source.Input{Reader: strings.NewReader(input), Name: "f"}, &collector{}, func(int, []byte) error {
			if calls++; calls == 2 {
				return errFull
			}
			return nil
		})
		if err != errFull {
			t.Errorf("%s: Read error = %v, want fn's error as is", name, err)
		}
		if calls != 2 {
			t.Errorf("%s: fn called %d times, want 2", name, calls)
		}
	}
}

func TestReadRecordLinesInBigFile(t *testing.T) {
	// Records past the first buffer keep their line numbers.
	var b strings.Builder
	b.WriteString("[\n")
	const n = 20000
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  {\n    \"i\": \"" + strings.Repeat("y", i%50) + "\"\n  }")
	}
	b.WriteString("\n]\n")
	got, err := readAll(t, strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("Read error = %v", err)
	}
	if len(got) != n {
		t.Fatalf("Read = %d records, want %d", len(got), n)
	}
	for i, g := range got {
		want := strconv.Itoa(2+3*i) + " {"
		if !strings.HasPrefix(g, want) {
			t.Fatalf("record %d = %.20q, want it to start with %q", i, g, want)
		}
	}
}
