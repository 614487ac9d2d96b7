package revocation_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

func Example() {
	// A service reads revoked events from the tokentrail store with
	// revocation.NewStoreSource(store, 0). This example uses a
	// MemorySource in its place.
	src := &revocation.MemorySource{}
	src.Add(
		audit.Event{ID: "r1", Time: time.Now(), Kind: audit.KindRevoked, TokenID: "4f1c2a9e"},
		revocation.SubjectEvent("mallory", time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), time.Now()),
	)

	var set revocation.Set
	refresher := revocation.NewRefresher(&set, src, revocation.RefresherOptions{})

	// Read everything once before serving, then keep polling from a
	// goroutine that the service owns and stops with cancel.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := refresher.Refresh(ctx); err != nil {
		fmt.Println("refresh:", err)
		return
	}
	go func() { _ = refresher.Run(ctx) }() // Run returns ctx.Err() once cancel is called

	// On every request:
	fmt.Println(set.Check(revocation.Token{TokenID: "4f1c2a9e"}))
	fmt.Println(set.Check(revocation.Token{TokenID: "9b2e", Subject: "mallory",
		IssuedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}))
	fmt.Println(set.Check(revocation.Token{TokenID: "9b2f", Subject: "alice",
		IssuedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}))
	// Output:
	// true token
	// true subject
	// false not_revoked
}
