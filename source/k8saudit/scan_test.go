package k8saudit

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkDecode fails tb when recordDecoder.decode and decodeRecord disagree
// on raw, and returns whether the scanner read raw itself.
func checkDecode(tb testing.TB, d *recordDecoder, raw string) (fast bool) {
	tb.Helper()
	_, fast = d.fast([]byte(raw))
	got, gotErr := d.decode([]byte(raw))
	want, wantErr := decodeRecord([]byte(raw))
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		tb.Fatalf("decode(%q) error = %v, want %v", raw, gotErr, wantErr)
	}
	if gotErr != nil {
		return fast
	}
	normalize(tb, got)
	normalize(tb, want)
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("decode(%q) = %+v, want %+v", raw, got, want)
	}
	return fast
}

func TestDecodeEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		fast bool // whether the scanner, not encoding/json, reads raw
	}{
		{"escaped ampersand", `{"auditID":"a","requestURI":"/api?x=1\u0026y=2","userAgent":"q\"\\\/\b\f\n\r\t"}`, true},
		{"non-ASCII text", `{"auditID":"a","user":{"username":"j\u00fcrgen ü 日本"}}`, true},
		{"white space", " {\n\t\"auditID\" : \"a\" ,\r\n \"sourceIPs\" : [ \"192.0.2.1\" , \"::1\" ] } ", true},
		{"nulls", `{"auditID":null,"user":null,"objectRef":null,"responseStatus":null,"sourceIPs":null,"annotations":null}`, true},
		{"null user fields", `{"user":{"username":null,"extra":null},"responseStatus":{"code":null}}`, true},
		{"empty arrays and objects", `{"sourceIPs":[],"user":{"extra":{}},"annotations":{}}`, true},
		{"unread fields of every type", `{"level":"Metadata","n":-1.5e+3,"t":true,"f":false,"z":null,"o":{"a":[1,{"b":[]}]}}`, true},
		{"negative status", `{"responseStatus":{"code":-404}}`, true},
		{"TokenRequest bodies", `{"verb":"create","objectRef":{"resource":"serviceaccounts","subresource":"token"},"requestObject": {"spec":{"audiences":["x"]}} ,"responseObject":null}`, true},
		{"other bodies dropped", `{"verb":"get","requestObject":{"a":1},"responseObject":[1,2]}`, true},
		{"kept keys of maps", `{"user":{"extra":{"authentication.kubernetes.io/credential-id":["JTI=a"],"x":["y"]}},"annotations":{"authentication.k8s.io/issued-credential-id":"JTI=b","z":"w"}}`, true},
		{"key given twice in a map", `{"user":{"extra":{"authentication.kubernetes.io/credential-id":["JTI=a"],"authentication.kubernetes.io/credential-id":["JTI=b"]}}}`, true},

		{"surrogate pair", `{"auditID":"a","userAgent":"\ud83d\ude00"}`, false},
		{"lone surrogate", `{"auditID":"a","userAgent":"\udc00"}`, false},
		{"key with escape", `{"audit\u0049D":"a"}`, false},
		{"Kelvin sign key", "{\"\u212aind\":\"Event\"}", false},
		{"key in another case", `{"AuditID":"a"}`, false},
		{"field given twice", `{"auditID":"a","auditID":"b"}`, false},
		{"status not an integer", `{"responseStatus":{"code":200.0}}`, false},
		{"status with exponent", `{"responseStatus":{"code":2e2}}`, false},
		{"status too large", `{"responseStatus":{"code":99999999999999999999}}`, false},
		{"string of wrong type", `{"auditID":1}`, false},
		{"null in an array", `{"sourceIPs":["192.0.2.1",null]}`, false},
		{"null in a map", `{"annotations":{"a":null}}`, false},
		{"number in extra", `{"user":{"extra":{"a":[1]}}}`, false},
		{"EventList", `{"kind":"EventList","items":[]}`, false},
		{"top-level null", `null`, false},
		{"top-level array", `[{"auditID":"a"}]`, false},
		{"control character", "{\"auditID\":\"a\tb\"}", false},
		{"invalid escape", `{"auditID":"a\x"}`, false},
		{"short unicode escape", `{"auditID":"\u12"}`, false},
		{"leading zero", `{"n":01}`, false},
		{"bare minus", `{"n":-}`, false},
		{"no fraction digits", `{"n":1.}`, false},
		{"no exponent digits", `{"n":1e+}`, false},
		{"NaN", `{"n":NaN}`, false},
		{"trailing comma in object", `{"auditID":"a",}`, false},
		{"trailing comma in array", `{"sourceIPs":["a",]}`, false},
		{"leading comma", `{,"auditID":"a"}`, false},
		{"missing colon", `{"auditID" "a"}`, false},
		{"trailing value", `{"auditID":"a"} {}`, false},
		{"truncated", `{"auditID":"a"`, false},
		{"truncated literal", `{"t":tru}`, false},
		{"invalid UTF-8", "{\"auditID\":\"\xff\"}", false},
		{"deep nesting", `{"o":` + strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1) + `}`, false},
	}
	var d recordDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fast := checkDecode(t, &d, tt.raw); fast != tt.fast {
				t.Errorf("scanner read %q: %v, want %v", tt.raw, fast, tt.fast)
			}
		})
	}
}

// TestDecodeSamplesFast checks that the scanner reads every record of the
// testdata files, so that the benchmark measures the path real logs take.
func TestDecodeSamplesFast(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var d recordDecoder
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !checkDecode(t, &d, line) {
				t.Errorf("%s:%d was left to encoding/json", name, i+1)
			}
		}
	}
}

func TestSkipPlainText(t *testing.T) {
	for _, stop := range []byte{'"', '\\', 0x00, 0x1f} {
		for at := range 20 {
			b := []byte(strings.Repeat("a\x7f\xc3\xa9 ~", 4))
			b[at] = stop
			if got := skipPlainText(b, 0); got != at {
				t.Errorf("skipPlainText(%q, 0) = %d, want %d", b, got, at)
			}
		}
	}
	if got := skipPlainText([]byte("abcdefghijk"), 3); got != 11 {
		t.Errorf("skipPlainText of text without stop = %d, want 11", got)
	}
}
