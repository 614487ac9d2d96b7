package forensics

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/store"
)

// forgedReasons are the reject reasons that mean the token was not minted
// by a trusted key: a signature that does not verify, a key the verifier
// does not know, or no signature at all.
var forgedReasons = []audit.RejectReason{audit.RejectBadSignature, audit.RejectUnknownKey, audit.RejectAlgNone}

// patterns finds what the subject's tokens share, and the forged tokens
// tried or accepted in the loaded events.
func (a *analysis) patterns() []Pattern {
	list := []Pattern{}
	mine := map[string]bool{}
	for _, jti := range a.tokens {
		mine[jti] = true
	}

	byRule := map[string][]string{}
	var rules []string
	for _, an := range a.sortedAnomalies() {
		if !mine[an.TokenID] {
			continue
		}
		if _, ok := byRule[an.Rule]; !ok {
			rules = append(rules, an.Rule)
		}
		if !slices.Contains(byRule[an.Rule], an.TokenID) {
			byRule[an.Rule] = append(byRule[an.Rule], an.TokenID)
		}
	}
	for _, rule := range rules {
		if tokens := byRule[rule]; len(tokens) > 1 {
			list = append(list, Pattern{Name: PatternRuleOnTokens, Tokens: tokens, Count: len(tokens),
				Description: fmt.Sprintf("rule %s fired on %s of %q", rule, counted(len(tokens), "token", "tokens"), a.subject)})
		}
	}

	for _, ns := range a.networks {
		var tokens []string
		for _, e := range a.sortedEvents(func(l *loaded) bool { return l.fromNetwork && mine[l.event.TokenID] }) {
			if a.suspiciousNetwork(e.IP) == ns && !slices.Contains(tokens, e.TokenID) {
				tokens = append(tokens, e.TokenID)
			}
		}
		if len(tokens) > 1 {
			list = append(list, Pattern{Name: PatternNetworkOnTokens, Tokens: tokens, Count: len(tokens),
				Description: fmt.Sprintf("%s of %q %s presented from %s", counted(len(tokens), "token", "tokens"), a.subject, wasWere(len(tokens)), ns.prefix)})
		}
	}

	list = append(list, a.forgedPatterns()...)

	families := map[string][]string{}
	var roots []string
	for _, t := range a.impacted {
		if t.Family == "" {
			continue
		}
		if _, ok := families[t.Family]; !ok {
			roots = append(roots, t.Family)
		}
		families[t.Family] = append(families[t.Family], t.TokenID)
	}
	for _, root := range roots {
		// The pattern stays after the family is revoked, since it happened,
		// but its text then drops the family's power to mint tokens.
		consequence := "so its refresh tokens can mint new access tokens"
		if a.scopeRevoked(lineageKey(root), audit.RevokeFamily, a.opts.Now, time.Time{}) {
			consequence = "and the family has been revoked since"
		}
		list = append(list, Pattern{Name: PatternRefreshFamily, Tokens: families[root], Count: len(families[root]),
			Description: fmt.Sprintf("%s of the refresh family rooted at %q %s accepted from suspicious networks, %s",
				counted(len(families[root]), "token", "tokens"), root, wasWere(len(families[root])), consequence)})
	}
	return list
}

// forgedPatterns reads the evidence of forged tokens. A refusal as forged
// proves an attempt that failed. A token refused as forged and also
// accepted proves that some verifier accepts what another refuses, which
// is only certain when both events carry the same fingerprint (the same
// bytes): a forged token may reuse a genuine token's jti. A token that its
// issuer never issued (unknown_token) and that a service accepted was
// signed by a trusted key, or the issuer's logs are incomplete.
func (a *analysis) forgedPatterns() []Pattern {
	var list []Pattern

	attempts, attemptTokens := 0, []string{}
	byReason := map[audit.RejectReason]int{}
	for _, e := range a.sortedEvents(func(l *loaded) bool { return l.fromNetwork && l.event.Kind == audit.KindRejected }) {
		if !slices.Contains(forgedReasons, e.RejectReason) && e.RejectReason != audit.RejectMalformed {
			continue
		}
		attempts++
		byReason[e.RejectReason]++
		if token := e.Token(); !slices.Contains(attemptTokens, token) {
			attemptTokens = append(attemptTokens, token)
		}
	}
	if attempts > 0 {
		var parts []string
		for _, r := range append(slices.Clone(forgedReasons), audit.RejectMalformed) {
			if n := byReason[r]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, r))
			}
		}
		list = append(list, Pattern{Name: PatternForgedAttempts, Tokens: attemptTokens, Count: attempts,
			Description: fmt.Sprintf("%s refused as forged or malformed (%s) when presented from suspicious networks: "+
				"attempts that the verifiers stopped", counted(attempts, "token was", "tokens were"), strings.Join(parts, ", "))})
	}

	forgedByFingerprint := map[string]audit.RejectReason{}
	forgedByJTI := map[string]bool{}
	for _, e := range a.sortedEvents(func(l *loaded) bool { return l.event.Kind == audit.KindRejected }) {
		if !slices.Contains(forgedReasons, e.RejectReason) {
			continue
		}
		if e.Fingerprint != "" {
			forgedByFingerprint[e.Fingerprint] = e.RejectReason
		} else if e.TokenID != "" {
			forgedByJTI[e.TokenID] = true
		}
	}
	var acceptedForged, jtiOnly []string
	for _, e := range a.sortedEvents(func(l *loaded) bool { return accepted(&l.event) }) {
		switch {
		case e.Fingerprint != "" && forgedByFingerprint[e.Fingerprint] != "":
			if !slices.Contains(acceptedForged, e.Token()) {
				acceptedForged = append(acceptedForged, e.Token())
			}
		case e.TokenID != "" && forgedByJTI[e.TokenID] && !slices.Contains(jtiOnly, e.TokenID):
			jtiOnly = append(jtiOnly, e.TokenID)
		}
	}
	if len(acceptedForged) > 0 {
		list = append(list, Pattern{Name: PatternForgedAccepted, Tokens: acceptedForged, Count: len(acceptedForged),
			Description: fmt.Sprintf("%s refused as forged (bad signature, unknown key or alg none) by one verifier "+
				"and accepted by another, with the same fingerprint: a verifier accepts tokens it should refuse", counted(len(acceptedForged), "token was", "tokens were"))})
	}
	if len(jtiOnly) > 0 {
		a.note("tokens %s were refused as forged and their jti was also accepted, but the events carry no fingerprint, "+
			"so the accepted token may be the genuine one whose jti a forgery reused", strings.Join(jtiOnly, ", "))
	}

	var unknown []string
	for _, an := range a.sortedAnomalies() {
		if an.Rule != ruleUnknownToken {
			continue
		}
		for _, id := range an.EventIDs {
			if l := a.events[id]; l != nil && accepted(&l.event) && !slices.Contains(unknown, l.event.Token()) {
				unknown = append(unknown, l.event.Token())
			}
		}
	}
	if len(unknown) > 0 {
		list = append(list, Pattern{Name: PatternUnknownAccepted, Tokens: unknown, Count: len(unknown),
			Description: fmt.Sprintf("%s accepted that no recorded issuer issued: "+
				"they were signed with a trusted key, or the issuer's logs are incomplete", counted(len(unknown), "token was", "tokens were"))})
	}
	return list
}

// plan ranks the remediation steps: stop forgery first, then cut the
// attacker's access, then revoke what the attacker may hold, then make the
// users sign in again. A family, subject or session step is left out when
// every token the store records in its scope is revoked already.
func (a *analysis) plan(ctx context.Context) ([]RemediationStep, error) {
	var steps []RemediationStep
	add := func(s RemediationStep) {
		s.Rank = len(steps) + 1
		steps = append(steps, s)
	}
	now := a.opts.Now

	var forged []string
	var evidence []string
	for _, p := range a.report.Patterns {
		if p.Name != PatternForgedAccepted && p.Name != PatternUnknownAccepted {
			continue
		}
		evidence = append(evidence, p.Description)
		for _, t := range p.Tokens {
			if !slices.Contains(forged, t) {
				forged = append(forged, t)
			}
		}
	}
	if len(evidence) > 0 {
		add(RemediationStep{
			Action: ActionRotateSigningKey, Targets: forged,
			Reason: strings.Join(evidence, ". ") + ". Every token signed with the current key is suspect until the key is replaced.",
			Manual: "At the issuer, generate a new signing key, sign with it, and remove the old key from the JWKS. " +
				"Then check that every verifier pins the expected algorithms and refuses alg none. " +
				"No tokentrail command changes the issuer's keys.",
		})
	}

	const enforceManual = "Make the service refuse revoked tokens: check a revocation set on each request (the httpmw and grpcmw " +
		"middleware do, see docs/middleware.md), or shorten the access tokens' lifetime until it does."
	if t, ok := a.acceptedAfterRevocation(); ok {
		add(RemediationStep{
			Action: ActionEnforceRevocation, Targets: []string{t.TokenID},
			Reason: fmt.Sprintf("token %s was revoked at %s but accepted again at %s, so the revocations below take no effect until the service checks them",
				t.TokenID, formatTime(t.Revoked), formatTime(t.Last)),
			Manual: enforceManual,
		})
	} else if an, ok := a.revokedTokenUse(); ok {
		// A revoked token accepted from the owner's own network is no
		// suspicious network's doing, but proves the same gap.
		add(RemediationStep{
			Action: ActionEnforceRevocation, Targets: []string{an.TokenID},
			Reason: fmt.Sprintf("token %s was accepted at %s after its revocation (%s), so revocations take no effect until the service checks them",
				an.TokenID, formatTime(an.Time), an.Rule),
			Manual: enforceManual,
		})
	}

	for _, ns := range a.networks {
		tool := "iptables"
		if ns.prefix.Addr().Is6() {
			tool = "ip6tables"
		}
		add(RemediationStep{
			Action: ActionBlockNetwork, Targets: []string{ns.prefix.String()},
			Reason: fmt.Sprintf("anomalies (%s) name addresses %s in it, and %s came from it in the window",
				strings.Join(ns.rules, ", "), strings.Join(ns.addresses, ", "), counted(ns.events, "event", "events")),
			Command: fmt.Sprintf("%s -I INPUT -s %s -j DROP", tool, ns.prefix),
			Manual:  "Block the network where traffic enters, such as the load balancer or web application firewall, if the host firewall is not it.",
		})
	}

	reason := fmt.Sprintf("incident of %s at %s", textValue(a.subject), a.report.At.UTC().Format(TimeLayout))
	revoked := map[string]bool{}
	for _, t := range a.impacted {
		if t.Family == "" || revoked["family:"+t.Family] {
			continue
		}
		revoked["family:"+t.Family] = true
		if a.scopeRevoked(lineageKey(t.Family), audit.RevokeFamily, now, time.Time{}) {
			continue
		}
		needed, err := a.anyUncovered(ctx, a.impactedIDs(func(u ImpactedToken) bool { return u.Family == t.Family }))
		if err != nil {
			return nil, err
		}
		if !needed {
			covered, err := a.coverFamily(ctx, t.Family)
			if err != nil {
				return nil, err
			}
			if covered.done() {
				continue
			}
		}
		var members []string
		for _, u := range a.impacted {
			if u.Family == t.Family {
				members = append(members, u.TokenID)
			}
		}
		add(a.revokeStep(ActionRevokeFamily, "family", t.Family, reason,
			fmt.Sprintf("tokens %s of the refresh family rooted at %q were accepted from suspicious networks, "+
				"and its refresh tokens can mint new access tokens", strings.Join(members, ", "), t.Family)))
	}
	for _, t := range a.impacted {
		if t.Family != "" {
			continue
		}
		if !t.Revoked.IsZero() && !t.Revoked.After(now) {
			continue
		}
		// t.Revoked reads the history until the window's end, and the
		// token may have been revoked since.
		revoked, err := a.tokenRevoked(ctx, []audit.Event{{TokenID: t.TokenID}})
		if err != nil {
			return nil, err
		}
		if revoked {
			continue
		}
		add(a.revokeStep(ActionRevokeToken, "jti", t.TokenID, reason,
			fmt.Sprintf("it was accepted %s from suspicious networks between %s and %s", counted(t.Uses, "time", "times"),
				formatTime(t.First), formatTime(t.Last))))
	}

	// Tokens that anomalies name but no suspicious network used, such as
	// those misused from a private or trusted address.
	for _, t := range a.report.Suspicious.Tokens {
		if slices.ContainsFunc(a.impacted, func(u ImpactedToken) bool { return u.TokenID == t.TokenID }) ||
			!slices.ContainsFunc(t.Rules, func(r string) bool { return r != "suspicious_network" }) ||
			a.revokedBy(t.TokenID, now) {
			continue
		}
		revoked, err := a.tokenRevoked(ctx, []audit.Event{{TokenID: t.TokenID}})
		if err != nil {
			return nil, err
		}
		if revoked {
			continue
		}
		add(a.revokeStep(ActionRevokeToken, "jti", t.TokenID, reason,
			fmt.Sprintf("anomalies (%s) name it", strings.Join(t.Rules, ", "))))
	}

	before := now.UTC().Truncate(time.Second)
	why := "the exposure may still be open, so every token issued until now is suspect"
	if len(a.impacted) == 0 {
		why = "anomalies name tokens of this subject and no use from a suspicious network bounds the exposure, so every token issued until now is suspect"
	}
	if x := a.report.Impact.Exposure; !x.Open && !x.End.IsZero() {
		before = x.End.UTC().Truncate(time.Second).Add(time.Second)
		why = fmt.Sprintf("the last use accepted from a suspicious network was at %s, so a token issued before it may be in the attacker's hands",
			formatTime(x.End))
	}
	for _, s := range a.revokeSubjects() {
		if a.scopeRevoked("subject\x00"+s, audit.RevokeSubject, now, before) {
			continue
		}
		// Reading the subject's whole history can cost more than the rest
		// of the analysis, so it is read only when every impacted token of
		// the subject is revoked already. The family and session steps
		// above do the same.
		// The analyzed subject's tokens in the window count as well: one
		// issued after the not-before time may keep a done step in the
		// plan, which errs on the safe side.
		ids := a.impactedIDs(func(t ImpactedToken) bool { return t.Subject == s })
		if s == a.subject {
			ids = append(ids, a.tokens...)
		}
		needed, err := a.anyUncovered(ctx, ids)
		if err != nil {
			return nil, err
		}
		if !needed {
			// A token used or issued before the not-before time was
			// issued before it.
			covered, err := a.coverQuery(ctx, store.Query{Subject: s, Until: before})
			if err != nil {
				return nil, err
			}
			if covered.done() {
				continue
			}
		}
		step := a.revokeStep(ActionRevokeSubject, "subject", s, reason, why)
		if step.Command != "" {
			step.Command += " --issued-before " + before.Format(time.RFC3339)
		}
		if step.API != "" {
			step.API = revocationAPI(map[string]string{"scope": "subject", "target": s, "issued_before": before.Format(time.RFC3339), "reason": reason})
		}
		add(step)
	}

	var sessions []string
	for _, t := range a.impacted {
		if t.SessionID != "" && !slices.Contains(sessions, t.SessionID) {
			sessions = append(sessions, t.SessionID)
		}
	}
	for _, id := range sessions {
		if a.scopeRevoked("session\x00"+id, audit.RevokeSession, now, time.Time{}) {
			continue
		}
		needed, err := a.anyUncovered(ctx, a.impactedIDs(func(t ImpactedToken) bool { return t.SessionID == id }))
		if err != nil {
			return nil, err
		}
		if !needed {
			covered, err := a.coverQuery(ctx, store.Query{SessionID: id})
			if err != nil {
				return nil, err
			}
			if covered.done() {
				continue
			}
		}
		add(a.revokeStep(ActionEndSession, "session", id, reason,
			"tokens of this sign-in session were accepted from suspicious networks; ending it makes the user sign in again, "+
				"with the identity provider's checks, and revokes the tokens minted in it"))
	}

	if steps == nil {
		steps = []RemediationStep{}
	}
	return steps, nil
}

// scopeRevoked reports whether the revocations that scopedRevocations read
// under key hold one of scope made at or before now, whose not-before, for
// a subject, is not before notBefore. A key it did not read counts as not
// revoked, so the step stays in the plan.
func (a *analysis) scopeRevoked(key string, scope audit.RevocationScope, now, notBefore time.Time) bool {
	return slices.ContainsFunc(a.revocations[key], func(e audit.Event) bool {
		nb := e.NotBefore
		if nb.IsZero() {
			nb = e.Time
		}
		return e.RevocationScope == scope && !e.Time.After(now) && !nb.Before(notBefore)
	})
}

// revokedTokenUse returns the oldest revoked_token_use anomaly of the
// analysis, which proves that a service accepted a revoked token.
func (a *analysis) revokedTokenUse() (audit.Anomaly, bool) {
	for _, an := range a.sortedAnomalies() {
		if an.Rule == detect.RuleRevokedTokenUse && an.TokenID != "" {
			return an, true
		}
	}
	return audit.Anomaly{}, false
}

// revokedBy reports whether a loaded event revokes jti at or before t.
func (a *analysis) revokedBy(jti string, t time.Time) bool {
	for _, l := range a.events {
		if l.event.Kind == audit.KindRevoked && l.event.TokenID == jti && !l.event.Time.After(t) {
			return true
		}
	}
	return false
}

// revokeSubjects returns the subjects whose tokens a suspicious network
// used or that anomalies name: the analyzed subject first.
func (a *analysis) revokeSubjects() []string {
	var list []string
	add := func(s string) {
		if s != "" && !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	for _, t := range a.report.Suspicious.Tokens {
		if t.Subject == a.subject {
			add(a.subject)
		}
	}
	for _, s := range a.report.Impact.Subjects {
		if s.Subject != "(unknown)" {
			add(s.Subject)
		}
	}
	slices.SortStableFunc(list, func(x, y string) int {
		switch {
		case x == a.subject:
			return -1
		case y == a.subject:
			return 1
		}
		return 0
	})
	return list
}

// revokeStep returns a step that runs `tokentrail revoke --flag value`.
// It gives no --expires-at: the store may not hold every token that a
// family, session or subject covers, such as one minted after the report
// or another client's refresh token, so services keep the entry. A value
// with a NUL character, or one the import cut or redacted, gets no
// command, and its manual action explains why.
func (a *analysis) revokeStep(action, flag, value, revocationReason, why string) RemediationStep {
	body := map[string]string{"scope": apiScopes[flag], "target": value, "reason": revocationReason}
	step := RemediationStep{Action: action, Reason: why, Targets: []string{value}, API: revocationAPI(body)}
	if hasNUL(value) {
		step.Manual = fmt.Sprintf("The value %s contains a NUL character, which no command-line argument can carry, "+
			"so no tokentrail revoke --%s command can name it: carry out the other steps, and revoke it at the identity provider that issued it.",
			strconv.Quote(value), flag)
		return step
	}
	if marker, cut := audit.CutMarker(value); cut {
		// The API request would name the cut value as well.
		step.API = ""
		step.Manual = fmt.Sprintf("The value that starts with %s was longer than 8 KiB, so the import cut it and stored it with the marker %q. "+
			"It is not the claim that services read, so a tokentrail revoke --%s command would revoke nothing: "+
			"carry out the other steps, and revoke it at the identity provider that issued it.",
			strconv.Quote(shortPrefix(value, 40)), marker, flag)
		return step
	}

	if audit.WasRedacted(value) {
		// Services see the raw token where the store has its marker, so
		// neither a command nor the API request could name it.
		step.API = ""
		step.Manual = fmt.Sprintf("The value %s held a raw JWT, which the import replaced with its fingerprint marker. "+
			"It is not the claim that services read, so a tokentrail revoke --%s command would revoke nothing: "+
			"carry out the other steps, and revoke it at the identity provider that issued it.",
			strconv.Quote(value), flag)
		return step
	}

	var cmd strings.Builder
	cmd.WriteString("tokentrail")
	if a.opts.DB != "" {
		cmd.WriteString(" --db " + shellQuote(a.opts.DB))
	}
	fmt.Fprintf(&cmd, " revoke --%s %s --actor %s --reason %s", flag, shellQuote(value), shellQuote(a.opts.Actor), shellQuote(revocationReason))
	step.Command = cmd.String()
	return step
}

// shortPrefix returns at most n bytes of s, cut on a rune boundary.
func shortPrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// textValue returns s as it is when it is printable, else quoted as a Go
// string, so that a control character in it cannot act on a terminal or
// break a line.
func textValue(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// apiScopes maps the flag of tokentrail revoke to the scope of the
// server's revocation request.
var apiScopes = map[string]string{"jti": "token", "fingerprint": "token", "family": "family", "session": "session", "subject": "subject"}

// revocationAPI returns the request of the tokentrail server that records
// a revocation. The server takes the actor from the API key, so the body
// names none.
func revocationAPI(body map[string]string) string {
	b, _ := json.Marshal(body) // a map of strings always encodes; keys come out sorted
	return "POST /api/v1/revocations " + string(b)
}

// CurlCommand returns the curl command that sends api, a PlanStep's API
// request, to the server whose address is in $TOKENTRAIL_URL, with the API
// key in $TOKENTRAIL_KEY. It returns "" when api is not of the form
// "METHOD /path JSON".
func CurlCommand(api string) string {
	method, rest, ok := strings.Cut(api, " ")
	if !ok {
		return ""
	}
	path, body, ok := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		return ""
	}
	return "curl -sS -X " + method + ` "$TOKENTRAIL_URL` + path + `"` +
		` -H "Authorization: Bearer $TOKENTRAIL_KEY" -H 'Content-Type: application/json'` +
		" --data " + shellQuote(body)
}

// counted returns n with the singular or plural noun, as "1 token" or
// "3 tokens".
func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// wasWere returns the form of "to be" that agrees with a count of n.
func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
