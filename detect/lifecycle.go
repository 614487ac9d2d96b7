package detect

import (
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The names of the rules in this file.
const (
	RuleRevokedTokenUse   = "revoked_token_use"
	RuleExpiredTokenUse   = "expired_token_use"
	RuleRefreshTokenReuse = "refresh_token_reuse"
)

// recordLifetime remembers the first redemption, validity and issuance the
// event states, for the events of the token that follow. checkLocked
// records revocations, apart from the token's state.
func (c *check) recordLifetime() {
	st, ev := c.st, c.ev
	now := ev.Time.UnixNano()

	if st.lifetimeID == "" && (!ev.ExpiresAt.IsZero() || !ev.NotBefore.IsZero() || !ev.IssuedAt.IsZero()) {
		st.expires = unixNano(ev.ExpiresAt)
		st.notBefore = unixNano(ev.NotBefore)
		st.issuedAt = unixNano(ev.IssuedAt)
		st.lifetimeID = ev.ID
	}
	if ev.Kind == audit.KindRefreshed && (st.rare == nil || st.rare.redeemID == "" || now < st.rare.redeemedAt) {
		rare := st.rareState()
		rare.redeemedAt = now
		rare.redeemID = ev.ID
	}
	if ev.Kind == audit.KindIssued {
		st.flags |= seenIssued
	}
	if st.root == 0 && ev.ParentTokenID != "" && ev.ParentTokenID != st.key {
		st.root = c.engine.lineageRootLocked(ev.ParentTokenID)
	}
}

// revokedTokenUse raises revoked_token_use on the first use of a token
// later than ClockSkew after the earliest revocation of its jti or of its
// fingerprint. scopedRevokedUse covers the revocations of sessions,
// subjects and refresh families.
func (c *check) revokedTokenUse() {
	e := c.engine
	cfg := e.cfg.Rules.RevokedTokenUse
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&firedRevoked != 0 || !c.isUse() ||
		len(e.mu.revokedIDs) == 0 && len(e.mu.revokedFingerprints) == 0 {
		return
	}
	rev, ok := e.tokenRevocationLocked(ev)
	if !ok {
		return
	}
	after := time.Duration(ev.Time.UnixNano() - rev.at)
	if after <= e.cfg.ClockSkew {
		return
	}
	st.flags |= firedRevoked
	c.raise(RuleRevokedTokenUse, cfg.Severity,
		fmt.Sprintf("Token %s was %s %s after it was revoked: find why the service still accepts it, and revoke the subject's other tokens if it was not the owner.",
			st.key, pastTense(ev.Kind), FormatDuration(after)),
		rev.id, ev.ID)
}

// expiredTokenUse raises expired_token_use on the first use of a token more
// than ClockSkew after its exp, and on the first use more than ClockSkew
// before its nbf or iat. The event's own exp, nbf and iat win over the ones
// an earlier event of the token stated.
func (c *check) expiredTokenUse() {
	cfg := c.engine.cfg.Rules.ExpiredTokenUse
	st, ev := c.st, c.ev
	if cfg.Disabled || !c.isUse() {
		return
	}
	now := ev.Time.UnixNano()
	skew := int64(c.engine.cfg.ClockSkew)

	expires, notBefore, issuedAt := st.expires, st.notBefore, st.issuedAt
	source := st.lifetimeID
	if !ev.ExpiresAt.IsZero() || !ev.NotBefore.IsZero() || !ev.IssuedAt.IsZero() {
		expires, notBefore, issuedAt = unixNano(ev.ExpiresAt), unixNano(ev.NotBefore), unixNano(ev.IssuedAt)
		source = ev.ID
	}
	proof := func() []string {
		if source != ev.ID {
			return []string{source, ev.ID}
		}
		return []string{ev.ID}
	}

	if st.flags&firedExpired == 0 && expires != 0 && now-expires > skew {
		st.flags |= firedExpired
		c.raise(RuleExpiredTokenUse, cfg.Severity,
			fmt.Sprintf("Token %s was %s %s after it expired: find why the service accepts expired tokens.",
				st.key, pastTense(ev.Kind), FormatDuration(time.Duration(now-expires))),
			proof()...)
	}

	// Before nbf, or before iat: a token used before it was issued is
	// forged or carries a clock far off the service's.
	start := max(notBefore, issuedAt)
	if st.flags&firedNotYetValid == 0 && start != 0 && start-now > skew {
		st.flags |= firedNotYetValid
		c.raise(RuleExpiredTokenUse, cfg.Severity,
			fmt.Sprintf("Token %s was %s %s before it became valid (nbf or iat): check the issuer's clock, and treat the token as forged if the clock is right.",
				st.key, pastTense(ev.Kind), FormatDuration(time.Duration(start-now))),
			proof()...)
	}
}

// refreshTokenReuse raises refresh_token_reuse when a refresh token is
// redeemed again later than Grace after its first redemption, or when the
// identity provider rejects it as reused.
func (c *check) refreshTokenReuse() {
	cfg := c.engine.cfg.Rules.RefreshTokenReuse
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&firedReuse != 0 {
		return
	}
	var redeemID string
	var redeemedAt int64
	if st.rare != nil {
		redeemID, redeemedAt = st.rare.redeemID, st.rare.redeemedAt
	}

	switch {
	case ev.Kind == audit.KindRejected && ev.RejectReason == audit.RejectReused:
		st.flags |= firedReuse
		ids := []string{ev.ID}
		if redeemID != "" {
			ids = []string{redeemID, ev.ID}
		}
		c.raise(RuleRefreshTokenReuse, cfg.Severity,
			fmt.Sprintf("Refresh token %s was presented again after it was redeemed, and the identity provider rejected it as reused: revoke every token of its family and find who holds a copy.", st.key),
			ids...)

	case ev.Kind == audit.KindRefreshed && redeemID != "" && ev.ID != redeemID:
		after := time.Duration(ev.Time.UnixNano() - redeemedAt)
		if after <= cfg.Grace {
			return // a retry or a parallel refresh by the same client
		}
		st.flags |= firedReuse
		c.raise(RuleRefreshTokenReuse, cfg.Severity,
			fmt.Sprintf("Refresh token %s was redeemed again %s after its first redemption: revoke every token of its family and find who holds a copy.",
				st.key, FormatDuration(after)),
			redeemID, ev.ID)
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func pastTense(k audit.Kind) string {
	if k == audit.KindRefreshed {
		return "redeemed"
	}
	return "used"
}
