package store

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// SummaryPart sums up part of a token's events, such as one group of a
// backend's grouped query, which may split a token's events by the token
// fields they carry. SummaryCollector merges the parts of each token.
type SummaryPart struct {
	TokenSummary

	// FingerprintSince is the time of the oldest event of the part, whose
	// Fingerprint counts over one of a later part.
	FingerprintSince time.Time
}

// SummaryCollector merges SummaryParts into one TokenSummary per token, as
// the backends' TokenSummaries give them. The zero SummaryCollector is
// empty and ready.
type SummaryCollector struct {
	byToken map[string]*SummaryPart
}

// Add merges p into the summary of its token, known by its TokenID or,
// without one, its Fingerprint.
func (c *SummaryCollector) Add(p SummaryPart) {
	if c.byToken == nil {
		c.byToken = map[string]*SummaryPart{}
	}
	key := cmp.Or(p.TokenID, p.Fingerprint)
	s, ok := c.byToken[key]
	if !ok {
		c.byToken[key] = &p
		return
	}

	if p.Fingerprint != "" && (s.Fingerprint == "" || p.FingerprintSince.Before(s.FingerprintSince)) {
		s.Fingerprint, s.FingerprintSince = p.Fingerprint, p.FingerprintSince
	}
	if p.LastSeen.After(s.LastSeen) || (p.LastSeen.Equal(s.LastSeen) && p.Subject > s.Subject) {
		s.Subject = p.Subject
	}
	s.FirstSeen = earliest(s.FirstSeen, p.FirstSeen)
	s.LastSeen = latest(s.LastSeen, p.LastSeen)
	s.Events += p.Events
	s.Uses += p.Uses
	s.Revoked = s.Revoked || p.Revoked
	if !p.IssuedAt.IsZero() && (s.IssuedAt.IsZero() || p.IssuedAt.Before(s.IssuedAt)) {
		s.IssuedAt = p.IssuedAt
	}
	s.ExpiresAt = latest(s.ExpiresAt, p.ExpiresAt)
}

// List returns the summaries, the token seen last first (ties broken by
// TokenID, then Fingerprint), at most limit of them when limit is above 0.
func (c *SummaryCollector) List(limit int) []TokenSummary {
	list := make([]TokenSummary, 0, len(c.byToken))
	for _, s := range c.byToken {
		list = append(list, s.TokenSummary)
	}
	slices.SortFunc(list, func(a, b TokenSummary) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), strings.Compare(a.TokenID, b.TokenID), strings.Compare(a.Fingerprint, b.Fingerprint))
	})
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
