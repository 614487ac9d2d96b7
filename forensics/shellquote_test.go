package forensics

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShellQuoteBash hands each quoted value to bash and checks that bash
// reads back the same bytes, so that a pasted plan command names the value
// that the data holds.
func TestShellQuoteBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed, so the quoting cannot be checked against a shell")
	}
	values := []string{
		"alice",
		"alice@example.com",
		"Alice Smith",
		"O'Brien",
		`back\slash`,
		"$HOME `id` $(id) *",
		"-x",
		"",
		"ali\nce",
		"tab\there",
		"\x1b[31mred\x1b[0m",
		"trailing newline\n",
		"\x7f",
		"\u0085next line",
		"\u202eevil",
		"caf\u00e9 \u00e9t\u00e9",
		"'\n'",
		"\\x41",
		"bad \xff byte",
	}
	for _, v := range values {
		quoted := shellQuote(v)
		// printf's format is fixed, so that no byte of the value is read
		// as an escape.
		out, err := exec.Command(bash, "-c", "printf '%s' "+quoted).Output()
		if err != nil {
			t.Errorf("bash -c printf %s: %v", quoted, err)
			continue
		}
		if string(out) != v {
			t.Errorf("shellQuote(%q) = %s, which bash reads as %q", v, quoted, out)
		}
	}
}

func TestShellQuoteForm(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"plain word", "alice", "alice"},
		{"space", "Alice Smith", "'Alice Smith'"},
		{"single quote", "O'Brien", `'O'\''Brien'`},
		{"empty", "", "''"},
		{"newline", "ali\nce", `$'ali\nce'`},
		{"escape and quote", "\x1b'\\", `$'\x1b\'\\'`},
		{"C1 control", "\u0085", `$'\xc2\x85'`},
		{"invalid UTF-8", "\xff", `$'\xff'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shellQuote(tt.value)
			if got != tt.want {
				t.Errorf("shellQuote(%q) = %s, want %s", tt.value, got, tt.want)
			}
			if strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Errorf("shellQuote(%q) = %q holds a control character", tt.value, got)
			}
		})
	}
}

func TestCurlCommand(t *testing.T) {
	api := `POST /api/v1/revocations {"reason":"Ann's laptop","scope":"token","target":"jti-1"}`

	got := CurlCommand(api)

	want := `curl -sS -X POST "$TOKENTRAIL_URL/api/v1/revocations" -H "Authorization: Bearer $TOKENTRAIL_KEY" -H 'Content-Type: application/json' --data '{"reason":"Ann'\''s laptop","scope":"token","target":"jti-1"}'`
	if got != want {
		t.Errorf("CurlCommand(%q) =\n%s\nwant\n%s", api, got, want)
	}
}

func TestCurlCommandRejectsOtherText(t *testing.T) {
	for _, api := range []string{"", "POST", "POST /api/v1/revocations", "POST api/v1/revocations {}"} {
		if got := CurlCommand(api); got != "" {
			t.Errorf("CurlCommand(%q) = %q, want empty", api, got)
		}
	}
}
