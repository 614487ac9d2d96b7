package main

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
)

// checkTarget looks up the family, session or subject that e revokes. It
// returns a warning for a target that no stored event names, which is
// often a mistyped value.
//
// It rejects a family named by a token that is not the root of its lineage
// unless force is set. Services match a family against
// httpmw.Claims.Family, the root of the presented token's lineage, and
// against the token's own jti. So such a revocation covers that one token
// only. With force it returns a warning instead.
func checkTarget(ctx context.Context, db store.Store, e *audit.Event, force bool) (warning string, err error) {
	switch e.RevocationScope {
	case audit.RevokeFamily:
		return checkFamily(ctx, db, e.TokenID, force)
	case audit.RevokeSession:
		known, err := recorded(ctx, db, store.Query{SessionID: e.SessionID})
		if err != nil || known {
			return "", err
		}
		return fmt.Sprintf("no event of session %s is stored: check the value against the sid claim of the session's tokens, "+
			"which tokentrail investigate JTI prints", plainOrQuoted(e.SessionID)), nil
	case audit.RevokeSubject:
		known, err := recorded(ctx, db, store.Query{Subject: e.Subject})
		if err != nil || known {
			return "", err
		}
		return fmt.Sprintf("no event of subject %s is stored: check the value against the sub claim of the subject's tokens, "+
			"which tokentrail investigate JTI prints", plainOrQuoted(e.Subject)), nil
	}
	return "", nil
}

// checkFamily looks up the token that names a refresh family. It warns
// when no event names it as a token or a parent, and rejects it, unless
// force is set, when its issuance names a parent.
func checkFamily(ctx context.Context, db store.Store, root string, force bool) (string, error) {
	name := plainOrQuoted(root)
	known, err := recorded(ctx, db, store.Query{TokenID: root})
	if err == nil && !known {
		known, err = recorded(ctx, db, store.Query{ParentTokenID: root})
	}
	if err != nil {
		return "", err
	}
	if !known {
		return fmt.Sprintf("no event of token %s is stored, so no refresh family is known to start at it: "+
			"check that it is the jti of the family's root refresh token, whose lineage tokentrail investigate JTI prints", name), nil
	}

	found, complete, err := forensics.LineageRoot(ctx, db, root)
	if err != nil {
		return "", fmt.Errorf("find the root of the refresh family of token %s: %w", name, err)
	}
	if found == root && complete {
		return "", nil
	}
	if !complete {
		if !force {
			return "", fmt.Errorf("invalid --family %s: its issuance names a parent token, and services name a refresh family by its root token, "+
				"so this revocation would cover %s only; its lineage has more than 64 parent links or they loop, so the root is unknown (the walk stopped at %s): "+
				"name the root with --family, or pass --force to record the revocation as given", name, name, plainOrQuoted(found))
		}
		return fmt.Sprintf("token %s is not the root of its refresh family, whose root is unknown (the walk stopped at %s): this revocation covers %s only",
			name, plainOrQuoted(found), name), nil
	}
	if !force {
		return "", fmt.Errorf("invalid --family %s: its issuance names a parent token, and services name a refresh family by its root token, "+
			"so this revocation would cover %s only; revoke its family with --family %s, or pass --force to record the revocation as given",
			name, name, plainOrQuoted(found))
	}
	return fmt.Sprintf("token %s is not the root of its refresh family, which starts at %s: this revocation covers %s only",
		name, plainOrQuoted(found), name), nil
}

// recordedKinds are the kinds of event that show a target exists. A
// revoked event only shows that someone revoked the same value before,
// perhaps with the same typo.
var recordedKinds = func() []audit.Kind {
	var kinds []audit.Kind
	for k := audit.KindIssued; k.Valid(); k++ {
		if k != audit.KindRevoked {
			kinds = append(kinds, k)
		}
	}
	return kinds
}()

// recorded reports whether an event of recordedKinds matches q.
func recorded(ctx context.Context, db store.Store, q store.Query) (bool, error) {
	q.Kinds, q.Limit = recordedKinds, 1
	events, err := db.Events(ctx, q)
	if err != nil {
		return false, fmt.Errorf("look up the events of the target: %w", err)
	}
	return len(events) > 0, nil
}
