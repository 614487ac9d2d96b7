package jsonl

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestParseMapping(t *testing.T) {
	const spec = `jti=requestContext.authorizer.jwt.claims.jti, ip=requestContext.http.sourceIp,` +
		`time=requestContext.timeEpoch,time_format=unix_ms,time_zone=Europe/Paris,default_kind=revoked,` +
		`sub=user.extra."authentication.kubernetes.io/credential-id"[0],aud=a."b,c"[2][0]`

	m, err := ParseMapping(spec)

	if err != nil {
		t.Fatalf("ParseMapping = %v, want nil", err)
	}
	paths := map[string]string{
		"jti":  "requestContext.authorizer.jwt.claims.jti",
		"ip":   "requestContext.http.sourceIp",
		"time": "requestContext.timeEpoch",
		"sub":  `user.extra."authentication.kubernetes.io/credential-id"[0]`,
		"aud":  `a."b,c"[2][0]`,
		"exp":  "",
	}
	for name, want := range paths {
		if got := m.Path(name); got != want {
			t.Errorf("Path(%q) = %q, want %q", name, got, want)
		}
	}
	if m.TimeFormat != TimeUnixMS {
		t.Errorf("TimeFormat = %q, want unix_ms", m.TimeFormat)
	}
	if m.TimeZone == nil || m.TimeZone.String() != "Europe/Paris" {
		t.Errorf("TimeZone = %v, want Europe/Paris", m.TimeZone)
	}
	if m.Kind != audit.KindRevoked {
		t.Errorf("Kind = %v, want revoked", m.Kind)
	}

	again, err := ParseMapping(m.String())
	if err != nil {
		t.Fatalf("ParseMapping(String()) = %v, want nil", err)
	}
	if again.String() != m.String() {
		t.Errorf("String() after a round trip = %q, want %q", again.String(), m.String())
	}
}

func TestParseMappingErrors(t *testing.T) {
	tests := []struct {
		name     string
		spec     string
		sentinel error
		message  string // a part of the error message
	}{
		{"empty spec", "", ErrInvalidMapping, `pair 1 of "" is empty`},
		{"empty pair", "jti=a,,time=t", ErrInvalidMapping, "pair 2 of"},
		{"no equals sign", "jti=a,time", ErrInvalidMapping, `pair 2 "time" is not field=path`},
		{"no path", "jti=,time=t", ErrInvalidMapping, `pair 1 "jti=" is not field=path`},
		{"unknown field", "jtii=a,time=t", ErrInvalidMapping, `pair 1 "jtii=a": unknown field "jtii"`},
		{"field twice", "jti=a,time=t,jti=b", ErrInvalidMapping, `pair 3 "jti=b": field jti is mapped twice, to a and b`},
		{"empty key", "jti=a..b,time=t", ErrInvalidMapping, `empty key at byte 2 of path "a..b"`},
		{"trailing dot", "jti=a.,time=t", ErrInvalidMapping, `path "a." ends with a dot`},
		{"index not a number", "jti=a[x],time=t", ErrInvalidMapping, `index "x" at byte 1 of path "a[x]"`},
		{"negative index", "jti=a[-1],time=t", ErrInvalidMapping, `index "-1"`},
		{"unclosed bracket", "jti=a[1,time=t", ErrInvalidMapping, "has no closing bracket"},
		{"unclosed quote", `jti=a."b,time=t`, ErrInvalidMapping, "has a quote that is not closed"},
		{"space in key", "jti=a b,time=t", ErrInvalidMapping, `unexpected ' ' at byte 1 of path "a b"`},
		{"bad escape", `jti="a\x",time=t`, ErrInvalidMapping, "invalid escape"},
		{"text after quoted key", `jti="a"b,time=t`, ErrInvalidMapping, `unexpected 'b' at byte 3`},
		{"bad time format", "jti=a,time=t,time_format=epoch", ErrInvalidMapping, `time_format "epoch" is not rfc3339, unix, unix_ms, unix_ns or a Go layout`},
		{"bad time zone", "jti=a,time=t,time_zone=Mars/Olympus", ErrInvalidMapping, `time_zone "Mars/Olympus"`},
		{"bad default kind", "jti=a,time=t,default_kind=minted", ErrInvalidMapping, `default kind: invalid value: kind "minted"`},
		{"time format twice", "jti=a,time=t,time_format=unix,time_format=unix_ms", ErrInvalidMapping, "time_format is set twice"},
		{"no time", "jti=a,ip=b", ErrIncompleteMapping, "field time is not mapped"},
		{"no identity", "time=t,ip=b", ErrIncompleteMapping, "none of the fields jti, fingerprint and token is mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMapping(tt.spec)

			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("ParseMapping(%q) = %v, want an error wrapping %v", tt.spec, err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("ParseMapping(%q) = %q, want it to contain %q", tt.spec, err, tt.message)
			}
		})
	}
}

func TestParseMappingFixedZone(t *testing.T) {
	m := mustMapping(t, "jti=a,time=t,time_zone=+05:30")

	_, offset := time.Date(2024, 1, 1, 0, 0, 0, 0, m.TimeZone).Zone()

	if offset != 5*3600+30*60 {
		t.Errorf("offset of time_zone +05:30 = %ds, want 19800", offset)
	}
}

func TestParseMappingGoLayout(t *testing.T) {
	m := mustMapping(t, "jti=a,time=t,time_format=02/Jan/2006:15:04:05 -0700")

	if m.TimeFormat != "02/Jan/2006:15:04:05 -0700" {
		t.Errorf("TimeFormat = %q, want the layout", m.TimeFormat)
	}
}

func TestLoadMapping(t *testing.T) {
	const file = `# Envoy access log with the jwt_authn payload
fields:
  token: authorization
  jti: jwt.jti
  ip: x_forwarded_for
  time: start_time
  sub: 'jwt."preferred_username"'
time_format: rfc3339
time_zone: UTC
kind: rejected
`
	m, err := LoadMapping(strings.NewReader(file))

	if err != nil {
		t.Fatalf("LoadMapping = %v, want nil", err)
	}
	for name, want := range map[string]string{"token": "authorization", "jti": "jwt.jti", "time": "start_time", "sub": `jwt."preferred_username"`} {
		if got := m.Path(name); got != want {
			t.Errorf("Path(%q) = %q, want %q", name, got, want)
		}
	}
	if m.Kind != audit.KindRejected {
		t.Errorf("Kind = %v, want rejected", m.Kind)
	}
	if m.TimeFormat != TimeRFC3339 || m.TimeZone != time.UTC {
		t.Errorf("TimeFormat, TimeZone = %q, %v, want rfc3339, UTC", m.TimeFormat, m.TimeZone)
	}
}

func TestLoadMappingErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		sentinel error
		message  string
	}{
		{"empty file", "", ErrInvalidMapping, "the file is empty"},
		{"not a mapping", "- jti\n- time\n", ErrInvalidMapping, "line 1: want a mapping"},
		{"syntax error", "fields:\n  jti: a\n time: [\n", ErrInvalidMapping, "yaml: line 2: did not find expected key"},
		{"unknown key", "fields:\n  jti: a\n  time: t\nformat: unix\n", ErrInvalidMapping, `line 4: unknown key "format"`},
		{"unknown field", "fields:\n  jti: a\n  tme: t\n", ErrInvalidMapping, `line 3: unknown field "tme"`},
		{"bad path", "fields:\n  time: t\n  jti: a..b\n", ErrInvalidMapping, `line 3: field jti: empty key`},
		{"path not text", "fields:\n  time: t\n  jti:\n    - a\n", ErrInvalidMapping, "line 4: field jti wants a path"},
		{"fields not a mapping", "fields: jti\n", ErrInvalidMapping, "line 1: fields wants a mapping"},
		{"repeated key", "fields:\n  jti: a\n  time: t\nkind: used\nkind: revoked\n", ErrInvalidMapping, "line 5: key kind repeats the one on line 4"},
		{"bad kind", "fields:\n  jti: a\n  time: t\nkind: minted\n", ErrInvalidMapping, `line 4: default kind`},
		{"bad time format", "fields:\n  jti: a\n  time: t\ntime_format: epoch\n", ErrInvalidMapping, `line 4: time_format "epoch"`},
		{"option not scalar", "fields:\n  jti: a\n  time: t\ntime_zone:\n  name: UTC\n", ErrInvalidMapping, "line 5: time_zone wants a single value"},
		{"no time", "fields:\n  jti: a\n", ErrIncompleteMapping, "field time is not mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadMapping(strings.NewReader(tt.yaml))

			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("LoadMapping(%q) = %v, want an error wrapping %v", tt.yaml, err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("LoadMapping(%q) = %q, want it to contain %q", tt.yaml, err, tt.message)
			}
		})
	}
}

func TestMappingSet(t *testing.T) {
	var m Mapping

	if err := m.Set("jti", "claims.jti"); err != nil {
		t.Fatalf("Set(jti) = %v, want nil", err)
	}
	if err := m.Set("time", "ts"); err != nil {
		t.Fatalf("Set(time) = %v, want nil", err)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
	if err := m.Set("nope", "x"); !errors.Is(err, ErrInvalidMapping) {
		t.Errorf("Set(nope) = %v, want ErrInvalidMapping", err)
	}
}

func TestFieldNames(t *testing.T) {
	names := FieldNames()

	if len(names) != int(numFields) {
		t.Fatalf("FieldNames() has %d names, want %d", len(names), numFields)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			t.Errorf("field name %q is empty or repeated", n)
		}
		seen[n] = true
	}
	names[0] = "changed"
	if FieldNames()[0] != "id" {
		t.Errorf("FieldNames() returns shared storage: a caller's change shows")
	}
}

func TestMappingStringQuotesLayout(t *testing.T) {
	m := mustMapping(t, `jti=a,time=t,time_format="Jan 2, 2006 15:04:05"`)

	again, err := ParseMapping(m.String())

	if err != nil {
		t.Fatalf("ParseMapping(%q) = %v, want nil", m.String(), err)
	}
	if again.TimeFormat != "Jan 2, 2006 15:04:05" {
		t.Errorf("TimeFormat after a round trip = %q, want the layout with its comma", again.TimeFormat)
	}
}
