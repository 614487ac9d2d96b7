// Package auth0 imports Auth0 tenant logs as token and session events.
//
// The input is either what the Management API's GET /api/v2/logs returns, a
// JSON array of log objects, or what log streams and exports write, one
// record a line. A record is the log object itself or, as the custom webhook
// stream wraps it, {"log_id": ..., "data": {log object}}. Both shapes may be
// mixed in one file.
//
// Each log's type code decides its event:
//
//   - Successful exchanges at the token endpoint (seacft, seccft, sepft,
//     seoobft, seotpft, sercft, sede, sens, any other se...ft) become
//     "issued" events, and the refresh-token exchange sertft a "refreshed"
//     event.
//   - Failed exchanges (feacft, fertft, any other fe...ft) become "rejected"
//     events with the reject reason invalid_grant and the log's description
//     as Reason. ferrt, a failed exchange of a rotating refresh token, is
//     rejected with the reason reused: Auth0's reference gives reuse
//     detection as its cause.
//   - srrt, a refresh token revoked, becomes a "revoked" event by API.
//   - sapi and fapi, Management API calls, become a "used" and a "rejected"
//     event of the API token whose jti the log names
//     (details.request.auth.credentials.jti), with method, path and status.
//     A call whose log names no such jti is skipped.
//   - Logins, signups, logouts, login failures and second-factor logs (s,
//     ss, ssa, scoa, slo, flo, f, fp, fu, fc, fco, fcoa, fs, fsa, fn, w,
//     mfar, gd_*) become "session" events when the log names the session.
//     Without a session id they concern no token and are skipped.
//
// Every other type (user and tenant administration, rate limits, emails) is
// skipped with the reason "<type>: not a token or session event".
//
// Auth0 logs no id for the tokens it mints, except the access token's jti
// in details.access_token_jti, which newer tenants add to exchange logs. A
// token minted without it is named by its exchange: TokenID is "auth0:"
// and the exchange's log_id. Such tokens are found by subject, client or
// session, not by a jti that an API gateway logged. Failed exchanges,
// revocations and reuse are named the same way, by their own log_id, since
// Auth0 does not say which earlier token they concern.
//
// Every event's ID is audit.NewID("auth0", log_id), so importing a file
// twice, or two overlapping exports, adds no duplicates.
package auth0

import (
	"context"

	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// Format returns the importer of Auth0 logs, named "auth0".
//
// Parse reads the records with jsonrecords.Read, which accepts a JSON array,
// JSON lines and the other layouts it documents, and rejects malformed
// records with file:line. Events come in file order, and a sertft log that
// names its access token yields two: the refresh, then the access token's
// issuance with ID audit.NewID("auth0", log_id, "access_token").
//
// These records are rejected with file:line and the reason, and reading goes
// on: a record without log_id, type or date, one whose date is not an RFC
// 3339 time, and one whose event still fails audit.Event.Validate after
// audit.Event.Sanitize. An optional field that holds a placeholder ("null",
// "", "-"), a value of the wrong JSON type or an address that does not parse
// is left out of the event instead.
func Format() source.Format {
	return source.Format{
		Name:   "auth0",
		Detect: Detect,
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			p := &parser{file: in.Name, h: h}
			return jsonrecords.Read(ctx, in, h, p.record)
		},
	}
}
