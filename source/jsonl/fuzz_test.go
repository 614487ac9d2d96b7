package jsonl

import (
	"context"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// checkingHandler fails the test on an event that does not validate or a
// report outside the input.
type checkingHandler struct {
	tb    testing.TB
	lines int
}

func (h *checkingHandler) Event(e audit.Event) error {
	if err := e.Validate(); err != nil {
		h.tb.Errorf("event from %s is invalid: %v", e.Source, err)
	}
	if !strings.HasPrefix(e.Source, "fuzz.jsonl:") {
		h.tb.Errorf("event Source = %q, want fuzz.jsonl:<line>", e.Source)
	}
	return nil
}

func (h *checkingHandler) Skip(line int, reason string) {
	if line < 1 || line > h.lines || !strings.HasPrefix(reason, "no token: ") {
		h.tb.Errorf("Skip(%d, %q): want a line of the input's %d and a record without token", line, reason, h.lines)
	}
}

func (h *checkingHandler) Reject(err *source.RecordError) {
	if err.File != "fuzz.jsonl" || err.Line < 1 || err.Line > h.lines || err.Reason == "" {
		h.tb.Errorf("Reject(%v) outside the input's %d lines or without reason", err, h.lines)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"apigw-http-api.jsonl", "envoy-access.jsonl"} {
		text := readFile(f, name)
		f.Add(text)
		for line := range strings.SplitSeq(text, "\n") {
			f.Add(line)
		}
	}
	f.Add(`{"authorization":"Bearer a.b.c","start_time":"2024-06-13T10:15:30Z"}`)
	f.Add(`{"requestContext":{"timeEpoch":"1e3","authorizer":{"jwt":{"claims":{"jti":[1]}}}}}`)

	mappings := []Mapping{
		loadMappingFile(f, "apigw-mapping.yaml"),
		mustMapping(f, "token=authorization,jti=jwt.jti,time=start_time,ip=x_forwarded_for,status=response_code,"+
			"aud=jwt.aud,exp=jwt.exp,scope=jwt.scope,lat=jwt.lat,asn=jwt.asn,kind=jwt.kind,fingerprint=jwt.fp"),
	}

	f.Fuzz(func(t *testing.T, data string) {
		for _, m := range mappings {
			h := &checkingHandler{tb: t, lines: strings.Count(data, "\n") + 1}
			in := source.Input{Reader: strings.NewReader(data), Name: "fuzz.jsonl"}
			if err := Format(m).Parse(context.Background(), in, h); err != nil {
				t.Errorf("Parse = %v, want nil", err)
			}
		}
	})
}

func FuzzParseMapping(f *testing.F) {
	f.Add("jti=requestContext.authorizer.jwt.claims.jti,ip=requestContext.http.sourceIp,time=requestContext.timeEpoch")
	f.Add(`sub=user.extra."authentication.kubernetes.io/credential-id"[0],jti=a[0][1],time=t,time_format=unix_ms`)
	f.Add(`jti="a\"b".c,time=[2].x,time_zone=+02:00,default_kind=revoked`)

	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseMapping(spec)
		if err != nil {
			return
		}

		again, err := ParseMapping(m.String())
		if err != nil {
			t.Fatalf("ParseMapping(%q) succeeded, but its String %q fails: %v", spec, m.String(), err)
		}
		if again.String() != m.String() {
			t.Errorf("round trip of %q: %q, then %q", spec, m.String(), again.String())
		}
	})
}
