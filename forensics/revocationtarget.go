package forensics

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// RevocationTarget describes the refresh family, session or subject that a
// revocation names, as the stored events show it. tokentrail revoke and the
// server's revoke route word it as warnings and errors.
type RevocationTarget struct {
	// Known is true when an event other than a revocation names the
	// target: a session by its SessionID, a subject by its Subject, a
	// family's root token as a token or as a parent. An unknown target is
	// often a mistyped value. A revoked event does not count, since it only
	// shows that someone revoked the same value before, perhaps with the
	// same typo.
	Known bool

	// Root is, for a family revocation of a known token, the root of that
	// token's refresh lineage as LineageRoot finds it, and RootComplete
	// reports whether the walk reached the root. Services match a family by
	// its root, so a family revocation whose target is not Root covers that
	// one token only.
	Root         string
	RootComplete bool
}

// IsFamilyRoot reports whether the token that names a family revocation is
// the root of its refresh family, or no stored event names it, so that no
// other root is known.
func (t RevocationTarget) IsFamilyRoot(tokenID string) bool {
	return !t.Known || (t.Root == tokenID && t.RootComplete)
}

// CheckRevocationTarget looks up the family, session or subject that the
// revoked event e revokes. For a token revocation it reads nothing and
// returns Known true: revocation.DescribeToken reads that token's events.
func CheckRevocationTarget(ctx context.Context, db EventQuerier, e *audit.Event) (RevocationTarget, error) {
	t := RevocationTarget{Known: true}
	var err error
	switch e.RevocationScope {
	case audit.RevokeSession:
		t.Known, err = recorded(ctx, db, store.Query{SessionID: e.SessionID})
	case audit.RevokeSubject:
		t.Known, err = recorded(ctx, db, store.Query{Subject: e.Subject})
	case audit.RevokeFamily:
		t.Known, err = recorded(ctx, db, store.Query{TokenID: e.TokenID})
		if err == nil && !t.Known {
			t.Known, err = recorded(ctx, db, store.Query{ParentTokenID: e.TokenID})
		}
		if err == nil && t.Known {
			t.Root, t.RootComplete, err = LineageRoot(ctx, db, e.TokenID)
		}
	}
	if err != nil {
		return RevocationTarget{}, fmt.Errorf("check the target of revocation %s: %w", e.ID, err)
	}
	return t, nil
}

// recordedKinds are the kinds of event that show that a revocation's
// target exists: every kind but revoked.
var recordedKinds = func() []audit.Kind {
	var kinds []audit.Kind
	for _, k := range audit.Kinds {
		if k != audit.KindRevoked {
			kinds = append(kinds, k)
		}
	}
	return kinds
}()

// recorded reports whether an event of recordedKinds matches q.
func recorded(ctx context.Context, db EventQuerier, q store.Query) (bool, error) {
	q.Kinds, q.Limit = recordedKinds, 1
	events, err := db.Events(ctx, q)
	if err != nil {
		return false, fmt.Errorf("look up the events of the target: %w", err)
	}
	return len(events) > 0, nil
}
