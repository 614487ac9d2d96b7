package apikey_test

import (
	"context"
	"testing"

	"github.com/tokentrail/tokentrail/apikey"
)

// BenchmarkAuthenticate authenticates one key against a SQLite store on a
// temporary file, with the cache (every call after the first is a hit) and
// without it (every call reads the store). The unknown variants send a key
// whose ID no stored key has, with the set of unknown IDs and without it.
func BenchmarkAuthenticate(b *testing.B) {
	for _, bench := range []struct {
		name    string
		cfg     apikey.Config
		unknown bool
	}{
		{"cached", apikey.Config{}, false},
		{"uncached", apikey.Config{CacheTTL: -1}, false},
		{"unknown-cached", apikey.Config{}, true},
		{"unknown-uncached", apikey.Config{UnknownTTL: -1}, true},
	} {
		b.Run(bench.name, func(b *testing.B) {
			ctx := context.Background()
			st, _ := openStore(b)
			m := apikey.NewManager(st, bench.cfg)
			secret, _ := mustCreate(b, m, "bench", apikey.RoleRead)
			if bench.unknown {
				secret = "tt_0123456789ab" + secret[len("tt_0123456789ab"):]
			}
			b.ReportAllocs()
			for b.Loop() {
				_, err := m.Authenticate(ctx, secret)
				if bench.unknown != (err != nil) {
					b.Fatalf("Authenticate = %v, want an error only for the unknown key", err)
				}
			}
		})
	}
}
