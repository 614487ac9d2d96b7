package forensics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

const (
	tokenID          = "at-2"
	parentID         = "rt-1"
	childID          = "at-3"
	office           = "203.0.113.24"
	attacker         = "198.51.100.77"
	officeUA         = "Mozilla/5.0 Firefox/132.0"
	scriptUA         = "python-requests/2.31.0"
	storyFingerprint = "8be5a07f7e9cb47f9c0ffd179107bfb34ec1521f4a55404f75be337bd8a8b492"
)

// openStore returns a real SQLite store in a temporary folder, filled with
// events.
func openStore(tb testing.TB, events []audit.Event) *sqlite.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Append(context.Background(), events); err != nil {
		tb.Fatalf("append: %v", err)
	}
	return db
}

func use(n int, at time.Time, ip, ua, path string) audit.Event {
	return audit.Event{
		ID: audit.NewID("test", "use", at.String(), ip), Time: at, Kind: audit.KindUsed,
		TokenID: tokenID, Subject: "alice", IP: netip.MustParseAddr(ip), UserAgent: ua,
		Method: "GET", Path: path, Status: 200, Source: fmt.Sprintf("gateway.jsonl:%d", n),
	}
}

// storyEvents returns the trail of a token issued from a refresh, used from
// the office and replayed from another network, revoked, then refused. A
// child token was minted from it.
func storyEvents() []audit.Event {
	events := []audit.Event{
		{
			ID: "issued", Time: t0, Kind: audit.KindIssued, TokenID: tokenID, Fingerprint: storyFingerprint,
			Subject: "alice", Issuer: "acme", ClientID: "web-portal", SessionID: "s-1",
			ParentTokenID: parentID, Scopes: []string{"openid", "orders"}, IP: netip.MustParseAddr(office),
			ExpiresAt: t0.Add(time.Hour), Source: "keycloak.log:7",
		},
		{
			ID: "parent-issued", Time: t0.Add(-time.Hour), Kind: audit.KindIssued, TokenID: parentID,
			Subject: "alice", Source: "keycloak.log:2",
		},
	}
	for i := range 6 {
		events = append(events, use(10+i, t0.Add(time.Duration(i)*5*time.Minute+time.Second), office, officeUA, "/api/orders"))
	}
	for i := range 3 {
		events = append(events, use(20+i, t0.Add(time.Duration(i)*time.Minute+61*time.Minute), attacker, scriptUA, "/api/export"))
	}
	events = append(events,
		audit.Event{
			ID: "revoked", Time: t0.Add(70 * time.Minute), Kind: audit.KindRevoked, TokenID: tokenID,
			Actor: "responder@acme.example", Reason: "replayed from 198.51.100.77",
			RevocationMethod: audit.RevokedByAdmin, Source: "keycloak.log:30",
		},
		audit.Event{
			ID: "rejected", Time: t0.Add(71 * time.Minute), Kind: audit.KindRejected, TokenID: tokenID,
			IP: netip.MustParseAddr(attacker), RejectReason: audit.RejectRevoked, Source: "gateway.jsonl:40",
		},
		audit.Event{
			ID: "child", Time: t0.Add(30 * time.Minute), Kind: audit.KindIssued, TokenID: childID,
			ParentTokenID: tokenID, Subject: "alice", Source: "keycloak.log:12",
		},
	)
	return events
}

func TestInvestigateTokenStory(t *testing.T) {
	db := openStore(t, storyEvents())
	now := t0.Add(2 * time.Hour)

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: now})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}

	if r.TokenID != tokenID || r.Fingerprint != storyFingerprint {
		t.Errorf("identity = %q, %q, want %q, %q", r.TokenID, r.Fingerprint, tokenID, storyFingerprint)
	}
	if r.Status != forensics.StatusRevoked {
		t.Errorf("Status = %q, want revoked", r.Status)
	}
	// A child was minted from the story's token, so it acted as a refresh
	// token.
	if r.Type != "refresh" {
		t.Errorf("Type = %q, want refresh", r.Type)
	}
	if !strings.Contains(r.StatusReason, "responder@acme.example") {
		t.Errorf("StatusReason = %q, want it to name the actor", r.StatusReason)
	}

	if r.Created == nil {
		t.Fatal("Created = nil, want the issuing event")
	}
	if r.Created.Subject != "alice" || r.Created.ClientID != "web-portal" || r.Created.IP.String() != office ||
		r.Created.Source != "keycloak.log:7" || !r.Created.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("Created = %+v, want alice, web-portal, %s, keycloak.log:7, expiry an hour after issue", r.Created, office)
	}

	u := r.Usage
	if u.Total != 9 {
		t.Errorf("Usage.Total = %d, want 9", u.Total)
	}
	if !u.First.Equal(t0.Add(time.Second)) || !u.Last.Equal(t0.Add(63*time.Minute)) {
		t.Errorf("Usage first, last = %v, %v", u.First, u.Last)
	}
	if want := 63*60.0 - 1; u.SpanSeconds != want {
		t.Errorf("Usage.SpanSeconds = %v, want %v", u.SpanSeconds, want)
	}
	if len(u.IPs) != 2 || u.IPs[0].Value != office || u.IPs[0].Count != 6 || u.IPs[1].Value != attacker {
		t.Errorf("Usage.IPs = %+v, want the office (6) then the attacker (3)", u.IPs)
	}
	if len(u.Networks) != 2 || u.Networks[0].Value != "203.0.113.0/24" || u.Networks[1].Value != "198.51.100.0/24" {
		t.Errorf("Usage.Networks = %+v", u.Networks)
	}
	if len(u.UserAgents) != 2 || u.UserAgents[1].Value != scriptUA {
		t.Errorf("Usage.UserAgents = %+v", u.UserAgents)
	}
	if len(u.Paths) != 2 || u.Paths[0].Value != "/api/orders" {
		t.Errorf("Usage.Paths = %+v", u.Paths)
	}
	if u.Hourly[9] != 6 || u.Hourly[10] != 3 {
		t.Errorf("Usage.Hourly[9], [10] = %d, %d, want 6, 3", u.Hourly[9], u.Hourly[10])
	}

	if len(r.Revocations) != 1 || r.Revocations[0].Actor != "responder@acme.example" || r.Revocations[0].Method != audit.RevokedByAdmin {
		t.Errorf("Revocations = %+v", r.Revocations)
	}
	if len(r.Rejections) != 1 || r.Rejections[0].Reason != audit.RejectRevoked {
		t.Errorf("Rejections = %+v", r.Rejections)
	}
	if r.Lineage.Parent != parentID {
		t.Errorf("Lineage.Parent = %q, want %q", r.Lineage.Parent, parentID)
	}
	if len(r.Lineage.Children) != 1 || r.Lineage.Children[0].TokenID != childID {
		t.Errorf("Lineage.Children = %+v, want %s", r.Lineage.Children, childID)
	}
	if want := []string{"keycloak.log", "gateway.jsonl"}; strings.Join(r.Sources, ",") != strings.Join(want, ",") {
		t.Errorf("Sources = %v, want %v", r.Sources, want)
	}
	if len(r.Events) != 12 {
		t.Errorf("len(Events) = %d, want 12", len(r.Events))
	}
	for i := 1; i < len(r.Events); i++ {
		if r.Events[i].Time.Before(r.Events[i-1].Time) {
			t.Fatalf("Events[%d] at %v is before Events[%d] at %v", i, r.Events[i].Time, i-1, r.Events[i-1].Time)
		}
	}
	if r.Anomalies == nil {
		t.Error("Anomalies = nil, want an empty list so that the JSON has []")
	}
}

func TestInvestigateTokenByFingerprint(t *testing.T) {
	db := openStore(t, storyEvents())

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{Fingerprint: storyFingerprint}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	// Only the issuing event carries the fingerprint; the uses are found
	// through the jti it names.
	if r.TokenID != tokenID || r.Usage.Total != 9 {
		t.Errorf("by fingerprint: TokenID = %q, uses = %d, want %q, 9", r.TokenID, r.Usage.Total, tokenID)
	}
}

func TestInvestigateTokenStatus(t *testing.T) {
	issued := audit.Event{ID: "i", Time: t0, Kind: audit.KindIssued, TokenID: "x", ExpiresAt: t0.Add(time.Hour)}
	noExpiry := audit.Event{ID: "u", Time: t0, Kind: audit.KindUsed, TokenID: "y"}
	revokedLater := audit.Event{ID: "r", Time: t0.Add(30 * time.Minute), Kind: audit.KindRevoked, TokenID: "x"}

	tests := []struct {
		name   string
		events []audit.Event
		token  string
		now    time.Time
		want   forensics.Status
	}{
		{"before expiry", []audit.Event{issued}, "x", t0.Add(time.Minute), forensics.StatusActive},
		{"before issuance", []audit.Event{issued}, "x", t0.Add(-time.Hour), forensics.StatusUnknown},
		{"after expiry", []audit.Event{issued}, "x", t0.Add(2 * time.Hour), forensics.StatusExpired},
		{"at expiry", []audit.Event{issued}, "x", t0.Add(time.Hour), forensics.StatusExpired},
		{"no expiry recorded", []audit.Event{noExpiry}, "y", t0, forensics.StatusUnknown},
		{"revoked after report time", []audit.Event{issued, revokedLater}, "x", t0.Add(10 * time.Minute), forensics.StatusActive},
		{"revoked before report time", []audit.Event{issued, revokedLater}, "x", t0.Add(40 * time.Minute), forensics.StatusRevoked},
		{"revoked and expired", []audit.Event{issued, revokedLater}, "x", t0.Add(3 * time.Hour), forensics.StatusRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, tt.events)
			r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tt.token}, forensics.Options{Now: tt.now})
			if err != nil {
				t.Fatalf("InvestigateToken: %v", err)
			}
			if r.Status != tt.want {
				t.Errorf("Status = %q (%s), want %q", r.Status, r.StatusReason, tt.want)
			}
		})
	}
}

func TestInvestigateTokenErrors(t *testing.T) {
	db := openStore(t, storyEvents())
	ctx := context.Background()

	_, err := forensics.InvestigateToken(ctx, db, forensics.TokenRef{TokenID: "never-seen"}, forensics.Options{})
	if !errors.Is(err, forensics.ErrTokenNotFound) {
		t.Errorf("unknown jti: err = %v, want ErrTokenNotFound", err)
	}
	_, err = forensics.InvestigateToken(ctx, db, forensics.TokenRef{}, forensics.Options{})
	if !errors.Is(err, forensics.ErrNoTokenRef) {
		t.Errorf("empty reference: err = %v, want ErrNoTokenRef", err)
	}
}

func TestRefFromTokenKeepsNoToken(t *testing.T) {
	claims := jwt.MapClaims{"jti": tokenID, "sub": "alice", "exp": t0.Add(time.Hour).Unix()}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	db := openStore(t, storyEvents())

	ref, err := forensics.RefFromToken(raw)
	if err != nil {
		t.Fatalf("RefFromToken: %v", err)
	}
	if ref.TokenID != tokenID || ref.Fingerprint != audit.Fingerprint(raw) {
		t.Errorf("RefFromToken = %+v, want jti %q and the token's fingerprint", ref, tokenID)
	}

	r, err := forensics.InvestigateToken(context.Background(), db, ref, forensics.Options{Now: t0})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal report: %v", err)
	}
	for _, part := range strings.Split(raw, ".") {
		if strings.Contains(string(out), part) {
			t.Fatalf("report contains a segment of the raw token")
		}
	}
	if strings.Contains(ref.String(), raw) {
		t.Fatalf("TokenRef.String contains the raw token")
	}
}

func TestRefFromTokenOpaque(t *testing.T) {
	ref, err := forensics.RefFromToken("opaque-access-token-value")
	if !errors.Is(err, audit.ErrMalformedToken) {
		t.Errorf("err = %v, want ErrMalformedToken", err)
	}
	if ref.Fingerprint != audit.Fingerprint("opaque-access-token-value") || ref.TokenID != "" {
		t.Errorf("RefFromToken(opaque) = %+v, want the fingerprint only", ref)
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct {
		ip   string
		want string
	}{
		{"203.0.113.24", "203.0.113.0/24"},
		{"::ffff:203.0.113.24", "203.0.113.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := forensics.Network(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Network(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
}

func TestInvestigateTokenNotes(t *testing.T) {
	other := audit.Fingerprint("another token")
	events := []audit.Event{
		{ID: "a", Time: t0, Kind: audit.KindUsed, TokenID: "42", Fingerprint: storyFingerprint, Issuer: "https://idp-a.example", Subject: "alice"},
		{ID: "b", Time: t0.Add(time.Minute), Kind: audit.KindUsed, TokenID: "42", Fingerprint: other, Issuer: "https://idp-b.example", Subject: "mallory"},
	}
	db := openStore(t, events)

	r, err := forensics.InvestigateToken(context.Background(), db,
		forensics.TokenRef{TokenID: "42", Fingerprint: audit.Fingerprint("the token given")}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	wants := []string{"no recorded event carries the fingerprint", "2 different fingerprints", "2 issuers", "2 subjects (alice, mallory)"}
	if len(r.Notes) != len(wants) {
		t.Fatalf("Notes = %q, want %d notes", r.Notes, len(wants))
	}
	for i, want := range wants {
		if !strings.Contains(r.Notes[i], want) {
			t.Errorf("Notes[%d] = %q, want it to contain %q", i, r.Notes[i], want)
		}
	}
	if len(r.Usage.Subjects) != 2 {
		t.Errorf("Usage.Subjects = %+v, want alice and mallory", r.Usage.Subjects)
	}

	clean, err := forensics.InvestigateToken(context.Background(), openStore(t, storyEvents()), forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	if len(clean.Notes) != 0 {
		t.Errorf("Notes of a single token = %q, want none", clean.Notes)
	}
}

func TestInvestigateTokenRawTokenAsJTI(t *testing.T) {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": tokenID}).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, storyEvents())

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: raw}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	if r.TokenID != tokenID {
		t.Errorf("TokenID = %q, want the jti %q read from the raw token", r.TokenID, tokenID)
	}

	unknown, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "never-seen"}).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: unknown}, forensics.Options{})
	if !errors.Is(err, forensics.ErrTokenNotFound) {
		t.Fatalf("err = %v, want ErrTokenNotFound", err)
	}
	if strings.Contains(err.Error(), strings.Split(unknown, ".")[1]) {
		t.Errorf("error %q contains the raw token", err)
	}
}
