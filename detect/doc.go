// Package detect finds token misuse in a stream of audit events and returns
// it as audit.Anomaly values. The same Engine serves live recording, ingest
// and file import: it runs on event time only and never reads the wall
// clock.
//
// # Rules
//
// Each rule has its thresholds and severity in Config. These rules keep
// per-token state:
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
//   - concurrent_use: two clients (user agent with ASN or network) take
//     turns with one token, A then B then A, within a window.
//   - user_agent_change: the user-agent family of a token's uses changes.
//     It needs Config.UserAgents.
//   - unknown_token: a use of a jti that a recorded issuer never issued.
//   - threat_intel_ip: an observation from an address in a threat-intel
//     list. It needs Config.IPLists.
//
// These rules keep per-network state, across tokens:
//
//   - rejected_burst: many tokens rejected as forged or malformed from one
//     network within a window.
//   - shared_ip_many_subjects: one network uses tokens of many subjects
//     within a window.
//
// This rule keeps per-subject state, across the subject's tokens:
//
//   - unfamiliar_client: a token of a subject is used from a country, an
//     ASN or a user-agent family that the subject never used, after a
//     learning period of event time and a number of uses.
//
// A subject is an issuer's sub. Placeholder subjects (empty, "-", "null",
// "none", "unknown" and the like) get no state, so tokens of unknown owners
// are never merged into one person.
//
// # Custom rules
//
// Config.CustomRules adds rules written in CEL (cel.dev/cel-go) over three
// variables: event, the event being checked; token, the token's state
// counting that event; and subject, the subject's state before it. New
// compiles every rule and rejects one whose expression does not compile or
// does not give a bool, with a *CustomRuleError that gives its line and
// column in the YAML file that ParseConfig read. A custom rule raises at
// most once per token. An evaluation that fails is counted in
// Stats.CustomRuleErrors and raises nothing; Engine.CustomRuleFailures gives
// the count and the first error of each failing rule. Config.CustomRuleCostLimit
// bounds the CEL cost of one evaluation: New rejects a rule whose estimated
// worst case passes it, and an evaluation that passes it at run time fails
// like any other. The token state that only custom rules read is kept only
// when some are configured.
//
// Config.UserAgents and Config.IPLists are small interfaces, so that the
// engine needs no particular parser or list format. *enrich.Enricher
// satisfies both.
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
// as sorted input. Flush checks what is still held at the end of an input,
// and ReleaseHeld what is held when a live input goes quiet.
// ObserveBatch takes a batch that overlaps the held events in time, such as
// the requests of several senders to the server, and merges it in one pass.
//
// A token's revocation is kept apart from its state, for as long as the
// engine runs, so that TokenTTL and MaxTokens do not forget it.
// LoadRevocations gives the engine the revocations stored before it
// started.
//
// An event that arrives later than the window still gets checked. When it
// is older than an event already checked for its token, Stats.Late counts
// it, and only the rules that compare it with the token's lifetime
// (revocation, validity, redemption, issuance, threat-intel lists) see it.
// An event older than one already checked for its network feeds no network
// rule. Importing several files that overlap by more than the window should
// therefore be followed by a run over the store in time order.
//
// unknown_token waits longer. An issued event may carry a time up to
// ClockSkew after the token's iat, so a use within ClockSkew of its iat
// waits until an event later than iat plus ClockSkew has been checked, or
// until Flush, before its verdict. An issued event that arrives after that
// comes too late: import the issuer's log before the logs of the services
// that use its tokens, or run over the store in time order.
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
// event time, and MaxPending bounds the events held for reordering.
// NetworkState and SubjectState bound the state per network and per
// subject in the same way, and UnknownToken.MaxWaiting the uses waiting for
// an unknown_token verdict.
// Stats counts every drop. A token whose state was dropped loses its
// history: unknown_token then gives no verdict on tokens issued before the
// latest dropped token's last event, since their issuance may have been
// dropped too.
//
// A subject whose state was dropped learns its clients again through a new
// learning period, so the drop can hide an unfamiliar client for that long.
//
// BenchmarkObserve measures the heap the engine holds per active token with
// every built-in rule on, network and subject state included, and per
// subject.
package detect
