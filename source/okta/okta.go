// Package okta imports the Okta System Log as token and session events.
//
// The input is System Log events (LogEvent objects), in any layout that
// source/jsonrecords reads. These include a JSON array as the /api/v1/logs
// API returns it, pretty-printed or not, and JSON lines as exports and SIEM
// forwarders write them.
//
// # Envelopes
//
// Two streaming deliveries wrap System Log events, and a record may be one
// of them. Every event, skip and rejection of a wrapped System Log event is
// reported at the line where its envelope starts. Each event keeps the ID it
// has without the envelope, so a store keeps one copy of a System Log event
// read both from the API and from a stream.
//
//   - An event hook delivery, the body of the POST request that Okta sends
//     to an event hook: {"eventType": "com.okta.event_hook",
//     "eventTypeVersion", "cloudEventsVersion", "source", "eventId",
//     "eventTime", "contentType", "data": {"events": [LogEvent, ...]}}. Each
//     element of data.events is imported. A delivery whose data.events is
//     missing or not an array is rejected, one with an empty array is
//     skipped, and an element that is not an object is rejected.
//   - An AWS EventBridge event of Okta's log stream: {"version", "id",
//     "detail-type", "source", "account", "time", "region", "resources",
//     "detail": LogEvent}. It is imported when its source starts with
//     "aws.partner/okta.com/", or when its detail has the uuid, published
//     and eventType strings of a LogEvent. Any other EventBridge event, such
//     as another vendor's, is skipped with its source and detail-type.
//
// The event hook shape is that of the sample delivery in Okta's event hooks
// documentation, and the EventBridge source prefix and detail are those of
// Okta's log streaming guide. The value of detail-type is not documented
// there, so it is not checked. The envelopes' own fields (eventId,
// eventTime, the EventBridge id and time) are not read: the System Log
// event's uuid and published time are the facts. Event hooks deliver only
// the event types Okta marks as eligible for them, which may exclude some
// token events.
//
// # Token events
//
// OAuth 2.0 token events are keyed by the token ids that Okta writes in
// target[] (entries of type access_token, refresh_token and id_token, with
// ids such as "AT.…", "RT.…" and "ID.…"). The event types are those of
// Okta's event-type catalogue, for custom authorization servers
// (app.oauth2.as.*) and the org authorization server (app.oauth2.*):
//
//   - app.oauth2.as.token.grant.access_token, .refresh_token and .id_token,
//     app.oauth2.token.grant.access_token, .refresh_token and .id_token, and
//     the implicit-flow app.oauth2.as.authorize.implicit.access_token,
//     .id_token and their org-server forms: "issued", one event per token
//     in target[]. When debugContext.debugData.grantType is refresh_token
//     and debugData.refreshTokenId names the redeemed refresh token, the
//     record also yields a "refreshed" event for that token, which becomes
//     the ParentTokenID of the new tokens. A refresh token that is not
//     rotated, and so appears both as redeemed and in target[], yields
//     only the "refreshed" event.
//   - A grant whose outcome.result is FAILURE or DENY (Okta logs these as
//     app.oauth2.as.token.grant and app.oauth2.token.grant): "rejected"
//     with audit.RejectInvalidGrant for each token it names in target[] or
//     as the redeemed refresh token, with outcome.reason as Reason. A grant
//     whose outcome is CHALLENGE, SKIPPED or UNKNOWN minted no token.
//   - app.oauth2.as.token.revoke and app.oauth2.token.revoke: "revoked",
//     by audit.RevokedByAdmin when the actor is a User (the Admin Console
//     or the users API) and audit.RevokedByAPI otherwise (a client calling
//     /revoke). app.oauth2.token.revoke.implicit.as, .client and .user,
//     which Okta writes when it revokes the tokens of a deactivated
//     authorization server, client or user: audit.RevokedByAutomated.
//   - app.oauth2.as.token.detect_reuse and app.oauth2.token.detect_reuse,
//     refresh-token reuse detection: "rejected" with audit.RejectReused,
//     for the refresh tokens in target[] and debugData.refreshTokenId.
//
// A token event that names no token (such as a refused authorization code)
// becomes a session event when the record has a session, and is skipped
// otherwise. A revocation whose outcome is FAILURE or DENY is skipped.
//
// NOTE: Okta's public documentation shows no complete token event. Three
// fields are therefore this importer's reading of the schema, not checked
// against a real export: debugData.refreshTokenId (the redeemed refresh
// token), and the token target's detailEntry.subject and
// detailEntry.expires. Without them, events lack the "refreshed" fact and
// ParentTokenID, the Subject, or ExpiresAt.
//
// # Session events
//
// Sign-in facts become "session" events (audit.KindSession) whose
// SessionID is authenticationContext.externalSessionId, or rootSessionId
// when the external one is absent or "unknown". Their Subject is the actor
// when it is a User, else the User or AppUser target (the actor of a
// federated sign-in is the Okta system). Their Reason is outcome.result,
// followed by ": " and outcome.reason when there is one, as in "FAILURE:
// INVALID_CREDENTIALS". These event types are session facts: user.session.*,
// user.authentication.*, user.mfa.*, policy.evaluate_sign_on,
// policy.auth_reevaluate.*, security.session.*, the factor challenges
// system.push.send_factor_verify_push,
// system.sms.send_factor_verify_message,
// system.email.send_factor_verify_message and
// system.voice.send_mfa_challenge_call, app.oauth2.signon and the
// authorization requests app.oauth2.as.authorize.* and
// app.oauth2.authorize.*. A session fact without a session id (Okta writes
// "unknown" for many single sign-on events) is skipped, because it concerns
// no token and no session.
//
// # Skipped records
//
// Every other event type is skipped with the reason "<eventType>: not a
// token or session event": account changes (user.account.*), lifecycle and
// administration events, consent grants (app.oauth2.as.consent.*).
//
// # Fields
//
// Every event has ID audit.NewID("okta", uuid, token id), or
// audit.NewID("okta", uuid) for a session event. A "refreshed" event is
// known by the request instead, audit.NewID("okta", transaction.id, token
// id, "refreshed"), because Okta writes one record per token type of a
// token response and each names the redeemed token: the records of one
// request yield the same event, which stores keep once.
//
// Time is published, read as RFC 3339 (a time without a zone is UTC).
// Action is eventType. IP is client.ipAddress, else the first address of
// request.ipChain, with an IPv4-mapped IPv6 address unmapped; a value that is
// not an address leaves IP zero. UserAgent is
// client.userAgent.rawUserAgent, except Okta's "UNKNOWN" and
// "UNKNOWN-DOWNLOAD". Geo is client.geographicalContext (city, country,
// geolocation.lat and .lon, where 0/0 means no location) with
// securityContext.asNumber and asOrg (isp when asOrg is empty). TraceID is
// transaction.id, else debugData.requestId. Path is debugData.requestUri.
// Scopes are debugData.grantedScopes, else requestedScopes. ClientID is
// debugData.clientId, else client.id, else the actor when it is a client
// application, else the AppInstance target. Issuer is debugData.issuer,
// else debugData.authorizationServerId, else the AuthorizationServer target,
// else the server id in a request path /oauth2/{id}/v1/…; tokens of the
// org authorization server have no Issuer. The Subject of a token event is
// the token target's detailEntry.subject, else the User or AppUser target,
// else the actor. A client application is the Subject only of its
// client_credentials tokens, so a token event whose actor is a client and
// that names no user has no Subject. The Actor of a "revoked" event is
// actor.id.
//
// In every text field, "", "-", "null", "nil", "none", "unknown", "n/a" and
// "undefined" mean "absent", in any letter case.
//
// # Rejected records
//
// These are rejected with file:line and the reason, and reading goes on: a
// record that is not a JSON object or not valid JSON; a record without
// eventType; a token or session record without uuid or with a published
// time that is missing or not RFC 3339; an event that fails
// audit.Event.Validate after audit.Event.Sanitize. The layouts' own
// rejections (a record over source.MaxLineBytes, invalid UTF-8) are those
// of the jsonrecords reader.
package okta

import (
	"context"

	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// Format returns the importer of the Okta System Log, named "okta". See the
// package documentation for what each record becomes.
func Format() source.Format {
	return source.Format{
		Name:   "okta",
		Detect: Detect,
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			return jsonrecords.Read(ctx, in, h, newParser(in.Name, h).record)
		},
	}
}
