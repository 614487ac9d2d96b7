package main

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
)

// checkTarget looks up the family, session or subject that e revokes with
// forensics.CheckRevocationTarget, as the server's revoke route does. It
// returns a warning for a target that no stored event names, which is
// often a mistyped value.
//
// It rejects a family named by a token that is not the root of its lineage
// unless force is set. Services match a family against
// httpmw.Claims.Family, the root of the presented token's lineage, and
// against the token's own jti. So such a revocation covers that one token
// only. With force it returns a warning instead.
func checkTarget(ctx context.Context, db store.Store, e *audit.Event, force bool) (warning string, err error) {
	t, err := forensics.CheckRevocationTarget(ctx, db, e)
	if err != nil {
		return "", err
	}
	switch e.RevocationScope {
	case audit.RevokeFamily:
		return familyWarning(t, e.TokenID, force)
	case audit.RevokeSession:
		if t.Known {
			return "", nil
		}
		return fmt.Sprintf("no event of session %s is stored: check the value against the sid claim of the session's tokens, "+
			"which tokentrail investigate JTI prints", plainOrQuoted(e.SessionID)), nil
	case audit.RevokeSubject:
		if t.Known {
			return "", nil
		}
		return fmt.Sprintf("no event of subject %s is stored: check the value against the sub claim of the subject's tokens, "+
			"which tokentrail investigate JTI prints", plainOrQuoted(e.Subject)), nil
	}
	return "", nil
}

// familyWarning words what the store shows about the token that names a
// refresh family. It warns when no event names it as a token or a parent,
// and rejects it, unless force is set, when its issuance names a parent.
func familyWarning(t forensics.RevocationTarget, root string, force bool) (string, error) {
	name := plainOrQuoted(root)
	switch {
	case !t.Known:
		return fmt.Sprintf("no event of token %s is stored, so no refresh family is known to start at it: "+
			"check that it is the jti of the family's root refresh token, whose lineage tokentrail investigate JTI prints", name), nil
	case t.IsFamilyRoot(root):
		return "", nil
	case !t.RootComplete:
		if !force {
			return "", fmt.Errorf("invalid --family %s: its issuance names a parent token, and services name a refresh family by its root token, "+
				"so this revocation would cover %s only; its lineage has more than 64 parent links or they loop, so the root is unknown (the walk stopped at %s): "+
				"name the root with --family, or pass --force to record the revocation as given", name, name, plainOrQuoted(t.Root))
		}
		return fmt.Sprintf("token %s is not the root of its refresh family, whose root is unknown (the walk stopped at %s): this revocation covers %s only",
			name, plainOrQuoted(t.Root), name), nil
	case !force:
		return "", fmt.Errorf("invalid --family %s: its issuance names a parent token, and services name a refresh family by its root token, "+
			"so this revocation would cover %s only; revoke its family with --family %s, or pass --force to record the revocation as given",
			name, name, plainOrQuoted(t.Root))
	}
	return fmt.Sprintf("token %s is not the root of its refresh family, which starts at %s: this revocation covers %s only",
		name, plainOrQuoted(t.Root), name), nil
}
