// Package detect finds token misuse in a stream of audit events and returns
// it as audit.Anomaly values. The same Engine serves live recording, ingest
// and file import: it runs on event time only and never reads the wall
// clock.
//
// # Rules
//
// Each rule keeps per-token state and has thresholds in Config:
//
//   - revoked_token_use: a use later than the clock skew after a revocation.
//   - expired_token_use: a use later than the clock skew after exp, or
//     earlier than the clock skew before nbf or iat.
//   - refresh_token_reuse: a second redemption past the retry grace, or a
//     rejection of the refresh token as reused.
//   - rapid_ip_change: more networks (/24, /64 by default) than allowed
//     within a window.
//   - high_frequency: more uses than allowed within a window.
//   - impossible_travel: two geolocated uses farther apart than a speed
//     allows.
//
// Tokens are keyed by audit.Event.Token: the jti when known, else the
// fingerprint. Two events of one token that carry only a jti in one and only
// a fingerprint in the other are two tokens to the engine.
//
// # Order of events
//
// Rules compare an event with the token's earlier events, so they must see
// events in time order. Observe holds each event for ReorderWindow of event
// time (10 s by default), sorted by time and then by event ID, and checks it
// once an event that much later has arrived. Input shuffled within the
// window, as from several service instances, thus gives the same anomalies
// as sorted input. Flush checks what is still held at the end of an input.
//
// An event that arrives later than the window still gets checked. When it
// is older than an event already checked for its token, Stats.Late counts
// it, and only the rules that compare it with the token's lifetime
// (revocation, validity, redemption) see it. Importing several files that
// overlap by more than the window should therefore be followed by a run over
// the store in time order.
//
// # Duplicates
//
// An anomaly's ID is audit.NewID over the rule name and the IDs of the
// events that prove it, so the same evidence always yields the same ID. An
// event pending with the same time and ID as another is dropped. The engine
// remembers which anomalies each token has raised and does not return one
// twice while it keeps the token's state. Stores keep one anomaly per ID,
// which covers replays after the state was dropped.
//
// # Bounds
//
// State is kept per token. MaxTokens bounds the number of tokens (the least
// recently seen is dropped), TokenTTL drops tokens unseen for that long in
// event time, and MaxPending bounds the events held for reordering. Stats
// counts every drop.
package detect
