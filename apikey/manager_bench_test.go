package apikey_test

import (
	"context"
	"testing"

	"github.com/tokentrail/tokentrail/apikey"
)

// BenchmarkAuthenticate authenticates one key against a SQLite store on a
// temporary file, with the cache (every call after the first is a hit) and
// without it (every call reads the store).
func BenchmarkAuthenticate(b *testing.B) {
	for _, bench := range []struct {
		name string
		cfg  apikey.Config
	}{
		{"cached", apikey.Config{}},
		{"uncached", apikey.Config{CacheTTL: -1}},
	} {
		b.Run(bench.name, func(b *testing.B) {
			ctx := context.Background()
			st, _ := openStore(b)
			m := apikey.NewManager(st, bench.cfg)
			secret, _ := mustCreate(b, m, "bench", apikey.RoleRead)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Authenticate(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
