package audit_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func validEvent() audit.Event {
	return audit.Event{
		ID:      audit.NewID("test", "1"),
		Time:    time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		Kind:    audit.KindUsed,
		TokenID: "5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55",
		IP:      netip.MustParseAddr("203.0.113.24"),
		Status:  200,
	}
}

// revocation returns a change that makes the event a revoked event of scope,
// then applies change.
func revocation(scope audit.RevocationScope, change func(e *audit.Event)) func(e *audit.Event) {
	return func(e *audit.Event) {
		e.Kind = audit.KindRevoked
		e.RevocationScope = scope
		change(e)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(e *audit.Event)
		wantField string // empty when the event is valid
	}{
		{"valid", func(e *audit.Event) {}, ""},
		{"fingerprint only", func(e *audit.Event) { e.TokenID = ""; e.Fingerprint = audit.Fingerprint("a.b.c") }, ""},
		{"missing id", func(e *audit.Event) { e.ID = "" }, "ID"},
		{"missing time", func(e *audit.Event) { e.Time = time.Time{} }, "Time"},
		{"zero kind", func(e *audit.Event) { e.Kind = 0 }, "Kind"},
		{"unknown kind", func(e *audit.Event) { e.Kind = 99 }, "Kind"},
		{"no token identity", func(e *audit.Event) { e.TokenID = "" }, "TokenID"},
		{"fingerprint not hex", func(e *audit.Event) { e.Fingerprint = strings.Repeat("z", 64) }, "Fingerprint"},
		{"fingerprint upper case", func(e *audit.Event) { e.Fingerprint = strings.Repeat("A", 64) }, "Fingerprint"},
		{"fingerprint short", func(e *audit.Event) { e.Fingerprint = "abc" }, "Fingerprint"},
		{"status too low", func(e *audit.Event) { e.Status = 42 }, "Status"},
		{"status too high", func(e *audit.Event) { e.Status = 600 }, "Status"},
		{"unknown revocation method", func(e *audit.Event) { e.RevocationMethod = "magic" }, "RevocationMethod"},
		{"unknown reject reason", func(e *audit.Event) { e.RejectReason = "bad_vibes" }, "RejectReason"},
		{"invalid UTF-8", func(e *audit.Event) { e.UserAgent = "curl/\xff" }, "UserAgent"},
		{"over-long path", func(e *audit.Event) { e.Path = "/" + strings.Repeat("a", 9000) }, "Path"},
		{"invalid UTF-8 scope", func(e *audit.Event) { e.Scopes = []string{"ok", "\xc3"} }, "Scopes"},
		{"unknown revocation scope", revocation("tenant", func(e *audit.Event) {}), "RevocationScope"},
		{"scope on a used event", func(e *audit.Event) { e.RevocationScope = audit.RevokeToken }, "RevocationScope"},
		{"token revocation", revocation(audit.RevokeToken, func(e *audit.Event) {}), ""},
		{"token revocation without token", revocation(audit.RevokeToken, func(e *audit.Event) { e.TokenID = "" }), "TokenID"},
		{"unscoped revocation without token", revocation("", func(e *audit.Event) { e.TokenID = "" }), "TokenID"},
		{"family revocation", revocation(audit.RevokeFamily, func(e *audit.Event) {}), ""},
		{"family revocation by fingerprint", revocation(audit.RevokeFamily, func(e *audit.Event) { e.TokenID = ""; e.Fingerprint = audit.Fingerprint("a.b.c") }), "TokenID"},
		{"session revocation without token", revocation(audit.RevokeSession, func(e *audit.Event) { e.TokenID = ""; e.SessionID = "sid-1" }), ""},
		{"session revocation without session", revocation(audit.RevokeSession, func(e *audit.Event) {}), "SessionID"},
		{"subject revocation without token", revocation(audit.RevokeSubject, func(e *audit.Event) { e.TokenID = ""; e.Subject = "alice" }), ""},
		{"subject revocation without subject", revocation(audit.RevokeSubject, func(e *audit.Event) { e.TokenID = "" }), "Subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.change(&e)
			err := e.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *audit.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Validate() field = %q, want %q (error %q)", fe.Field, tt.wantField, err)
			}
			if !errors.Is(err, audit.ErrInvalidValue) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidValue", err)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("Validate() message %q does not name the field %s", err, tt.wantField)
			}
		})
	}
}

func TestValidateNamesTheValue(t *testing.T) {
	e := validEvent()
	e.Status = 42
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), `"42"`) {
		t.Errorf("Validate() = %v, want the message to quote 42", err)
	}
}

func TestKindText(t *testing.T) {
	for _, k := range audit.Kinds {
		text, err := k.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText: %v", k, err)
		}
		var back audit.Kind
		if err := back.UnmarshalText(text); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", text, back, err, k)
		}
	}
	if _, err := audit.ParseKind("stolen"); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("ParseKind(stolen) error = %v, want ErrInvalidValue", err)
	}
	if _, err := audit.Kind(0).MarshalText(); err == nil {
		t.Error("Kind(0).MarshalText() = nil error, want one")
	}
}

func TestEventJSON(t *testing.T) {
	e := validEvent()
	e.Scopes = []string{"openid"}
	e.Geo = audit.Geo{Country: "DE", City: "Berlin", Latitude: 52.52, Longitude: 13.40, ASN: 64500}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	for _, want := range []string{`"kind":"used"`, `"ip":"203.0.113.24"`, `"country":"DE"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s lacks %s", data, want)
		}
	}
	for _, absent := range []string{"expires_at", "fingerprint", "reject_reason"} {
		if strings.Contains(string(data), absent) {
			t.Errorf("JSON %s has the unset field %s", data, absent)
		}
	}

	var back audit.Event
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if back.Kind != e.Kind || back.IP != e.IP || back.Geo != e.Geo || !back.Time.Equal(e.Time) {
		t.Errorf("round trip = %+v, want %+v", back, e)
	}
}

func TestGeoHasCoordinates(t *testing.T) {
	tests := []struct {
		name string
		geo  audit.Geo
		want bool
	}{
		{"zero", audit.Geo{}, false},
		{"0/0 placeholder", audit.Geo{Country: "", Latitude: 0, Longitude: 0}, false},
		{"Berlin", audit.Geo{Latitude: 52.52, Longitude: 13.40}, true},
		{"on the equator", audit.Geo{Latitude: 0, Longitude: 32.58}, true},
		{"out of range", audit.Geo{Latitude: 91, Longitude: 10}, false},
	}
	for _, tt := range tests {
		if got := tt.geo.HasCoordinates(); got != tt.want {
			t.Errorf("%s: HasCoordinates() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewIDStable(t *testing.T) {
	a := audit.NewID("keycloak", "line one", "access")
	if a != audit.NewID("keycloak", "line one", "access") {
		t.Error("NewID is not stable for the same parts")
	}
	if a == audit.NewID("keycloak", "line one", "refresh") {
		t.Error("NewID is the same for different roles")
	}
	// The separator keeps ("ab", "c") apart from ("a", "bc").
	if audit.NewID("ab", "c") == audit.NewID("a", "bc") {
		t.Error("NewID(ab, c) = NewID(a, bc)")
	}
	if len(a) != 32 {
		t.Errorf("len(NewID) = %d, want 32", len(a))
	}
}

func TestValidateAllocs(t *testing.T) {
	e := validEvent()
	e.Scopes = []string{"openid", "orders"}
	allocs := testing.AllocsPerRun(100, func() {
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Validate allocates %v times per valid event, want 0", allocs)
	}
}

func TestFieldErrorJSONField(t *testing.T) {
	tests := []struct{ field, want string }{
		{"TokenID", "token_id"},
		{"Kind", "kind"},
		{"RejectReason", "reject_reason"},
		{"Geo.Country", "geo.country"},
		{"Geo.ASN", "geo.asn"},
		{"Rule", "Rule"},
	}
	for _, tt := range tests {
		fe := &audit.FieldError{Field: tt.field}
		if got := fe.JSONField(); got != tt.want {
			t.Errorf("FieldError{Field: %q}.JSONField() = %q, want %q", tt.field, got, tt.want)
		}
	}
}

func TestValidateMissingKind(t *testing.T) {
	e := audit.Event{ID: "e1", Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), TokenID: "t1"}
	var fe *audit.FieldError
	if err := e.Validate(); !errors.As(err, &fe) || fe.Field != "Kind" || fe.Value != "" || !strings.Contains(fe.Reason, "is missing: want one of issued") {
		t.Errorf("Validate(no kind) = %v, want field Kind is missing with the valid kinds and no value", err)
	}
}
