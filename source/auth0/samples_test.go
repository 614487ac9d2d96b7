package auth0

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/shareddata"
)

// TestElasticSample reads the Auth0 log-stream records of Elastic's
// integration tests: logins, code exchanges, a logout, failed logins and a
// Management API call. The file's licence (Elastic License 2.0) does not
// allow copying it here, so it is read in place.
func TestElasticSample(t *testing.T) {
	const file = "auth0-logs-elastic-integrations.jsonl"
	r := parseFile(t, shareddata.File(t, file))

	checkTotals(t, r, 8, 3, 0)

	const (
		tenant    = "https://dev-yoj8axza.au.auth0.com/"
		client    = "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB"
		neo       = "auth0|6182002f34f4dd006b05b5c7"
		neoSesion = "1TAd-7tsPYzxWudzqfHYXN0e6q1D0GSc"
		firefox   = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:93.0) Gecko/20100101 Firefox/93.0"
		chrome    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36"
	)

	t.Run("login", func(t *testing.T) {
		const id = "90020211104001515271334544008635532534914988032684720226"
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", id)), audit.Event{
			ID:        audit.NewID("auth0", id),
			Time:      mustTime(t, "2021-11-04T00:15:10.706Z"),
			Kind:      audit.KindSession,
			Action:    "s",
			Issuer:    tenant,
			Subject:   "auth0|618223a4e3f49e006948565c",
			ClientID:  client,
			SessionID: "m5SgtzMKxmeNBxj_kCfUUJhzrSdfvLFu",
			IP:        netip.MustParseAddr("81.2.69.143"),
			UserAgent: chrome,
			Reason:    "login succeeded",
			Source:    file + ":1",
		})
	})

	t.Run("code exchange", func(t *testing.T) {
		const id = "90020211103055356921223355655001812450210017671557152834"
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", id)), audit.Event{
			ID:        audit.NewID("auth0", id),
			Time:      mustTime(t, "2021-11-03T05:53:54.714Z"),
			Kind:      audit.KindIssued,
			Action:    "seacft",
			TokenID:   "auth0:" + id,
			Issuer:    tenant,
			Subject:   neo,
			ClientID:  client,
			IP:        netip.MustParseAddr("81.2.69.143"),
			UserAgent: "Go-http-client/2.0",
			Source:    file + ":5",
		})
	})

	t.Run("logout from another address", func(t *testing.T) {
		const id = "90020211103055400418223355659153263714766654532376068162"
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", id)), audit.Event{
			ID:        audit.NewID("auth0", id),
			Time:      mustTime(t, "2021-11-03T05:53:57.546Z"),
			Kind:      audit.KindSession,
			Action:    "slo",
			Issuer:    tenant,
			Subject:   neo,
			ClientID:  client,
			SessionID: neoSesion,
			IP:        netip.MustParseAddr("114.76.60.57"),
			UserAgent: firefox,
			Reason:    "logout succeeded",
			Source:    file + ":6",
		})
	})

	t.Run("failed login with session", func(t *testing.T) {
		const id = "90020211104002953320334544994860291215054924285237788770"
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", id)), audit.Event{
			ID:        audit.NewID("auth0", id),
			Time:      mustTime(t, "2021-11-04T00:29:50.035Z"),
			Kind:      audit.KindSession,
			Action:    "f",
			Issuer:    tenant,
			Audience:  []string{"https://dev-yoj8axza.au.auth0.com/userinfo"},
			Scopes:    []string{"openid", "profile"},
			ClientID:  "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL",
			SessionID: "Z_IDr9JX5VzO1l-2IEk6bSXWP3mu4wMP",
			IP:        netip.MustParseAddr("81.2.69.143"),
			UserAgent: chrome,
			Reason:    "the connection is not enabled",
			Source:    file + ":8",
		})
	})

	t.Run("management API call", func(t *testing.T) {
		const id = "90020211104001144643223441133851203963552710102024716354"
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", id)), audit.Event{
			ID:       audit.NewID("auth0", id),
			Time:     mustTime(t, "2021-11-04T00:11:39.575Z"),
			Kind:     audit.KindUsed,
			Action:   "sapi",
			TokenID:  "08eb25a1ae7ae2bea404571e84634806",
			Subject:  "auth0|6181ce2b0f293a006d158194",
			ClientID: "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL",
			IP:       netip.MustParseAddr("35.167.74.121"),
			// The log's own user_agent, which differs from the request's
			// header by a space in "AppleWeb Kit".
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWeb Kit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
			Method:    "POST",
			Path:      "/api/v2/log-streams",
			Status:    200,
			Source:    file + ":11",
		})
	})

	t.Run("session chain", func(t *testing.T) {
		var lines []string
		for _, e := range r.events {
			if e.SessionID == neoSesion {
				lines = append(lines, e.Source[len(file)+1:]+" "+e.Action)
			}
		}
		if got, want := strings.Join(lines, ", "), "3 s, 4 s, 6 slo"; got != want {
			t.Errorf("events of session %s = %s, want %s", neoSesion, got, want)
		}
	})

	t.Run("failed logins without session skipped", func(t *testing.T) {
		for line, want := range map[int]string{7: "f: no session id", 9: "fu: no session id", 10: "fp: no session id"} {
			if got := r.skipAt(t, line); got != want {
				t.Errorf("skip reason of line %d = %q, want %q", line, got, want)
			}
		}
	})
}
