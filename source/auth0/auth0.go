// Package auth0 imports Auth0 tenant logs as token and session events.
//
// The input is either what the Management API's GET /api/v2/logs returns, a
// JSON array of log objects, or what log streams and exports write, one
// record a line. A record is the log object itself or, as the custom webhook
// stream wraps it, {"log_id": ..., "data": {log object}}. Both shapes may be
// mixed in one file.
//
// # Envelopes
//
// Two log streams wrap each log in an event of a cloud event bus, and a
// record may be such an event. Its events, skip or rejection are reported at
// the line where the event starts. Its events keep the IDs of the log itself,
// so a store keeps one copy of a log read both from the API and from a
// stream.
//
//   - An Amazon EventBridge event of Auth0's log stream: {"version", "id",
//     "detail-type", "source", "account", "time", "region", "resources",
//     "detail": {"log_id", "data": {log object}}}. It is read when its
//     source starts with "aws.partner/auth0.com/", and then a detail that is
//     not an object is rejected. Another EventBridge event is read when its
//     detail is an Auth0 log, and skipped otherwise. A detail that is the
//     bare log object is read too.
//   - An Azure Event Grid event, alone or in the array that Event Grid
//     delivers: {"id", "topic", "subject", "eventType", "eventTime",
//     "data", "dataVersion", "metadataVersion"}. It is read when its data is
//     an Auth0 log, bare or as {"log_id", "data": {log object}}, and skipped
//     otherwise.
//
// The EventBridge shape, with the log-stream wrapper in detail and the
// detail-type "Auth0 log", is that of sample events that Auth0 users have
// published: a copy of the Auth0 Dashboard's preview of the stream, and a
// project's test fixture. detail-type is not checked. The Event Grid envelope is Event Grid's own
// event schema. Auth0's and Microsoft's documentation show no Auth0 event
// in it, so the eventType Auth0 sets and whether data holds the wrapper are
// not confirmed, and both forms of data are read.
//
// NOTE: the CloudEvents 1.0 schema, which Event Grid partner topics may
// deliver instead ({"specversion", "type", "source", "data"}), is not read.
// Such an event is taken for a log whose type is the event's type, and
// rejected because it has no log_id.
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
