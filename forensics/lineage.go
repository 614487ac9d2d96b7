package forensics

import (
	"context"
	"fmt"
	"slices"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// LineageRoot returns the root of the refresh family of token jti: the
// first token up the parent links of the stored issuances whose issuance
// names no parent or is not stored. That is jti itself for a token without
// a parent. A family revocation names the family by this root.
//
// complete is false when the walk stopped before it found the root,
// because the lineage has more than 64 parent links or they loop. root is
// then the last token reached.
func LineageRoot(ctx context.Context, db EventQuerier, jti string) (root string, complete bool, err error) {
	path := []string{jti}
	for links := 0; ; links++ {
		issued, err := db.Events(ctx, store.Query{TokenID: jti, Kinds: []audit.Kind{audit.KindIssued}, Limit: 1})
		if err != nil {
			return "", false, fmt.Errorf("query issuance of token %q: %w", jti, err)
		}
		if len(issued) == 0 || issued[0].ParentTokenID == "" {
			return jti, true, nil
		}
		parent := issued[0].ParentTokenID
		if links == maxLineage || slices.Contains(path, parent) {
			return jti, false, nil
		}
		jti = parent
		path = append(path, jti)
	}
}
