package apikey_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/apikey"
)

// FuzzAuthenticate checks that only the exact key authenticates, and that
// every other input fails with ErrUnknownKey and an error without the input.
func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	st, _ := openStore(f)
	m := apikey.NewManager(st, apikey.Config{})
	secret, k := mustCreate(f, m, "fuzz", apikey.RoleRead)

	f.Add(secret)
	f.Add(secret[:len(secret)-1])
	f.Add(secret + "=")
	f.Add("tt_" + k.ID + "_")
	f.Add("tt_" + k.ID + "_" + strings.Repeat("A", 43))
	f.Add(strings.Replace(secret, "tt_", "TT_", 1))
	f.Add("tt__" + secret)
	f.Add("")

	f.Fuzz(func(t *testing.T, input string) {
		got, err := m.Authenticate(ctx, input)
		if input == secret {
			if err != nil || got.ID != k.ID {
				t.Fatalf("Authenticate(the key) = %+v, %v; want key %s", got, err, k.ID)
			}
			return
		}
		if !errors.Is(err, apikey.ErrUnknownKey) {
			t.Fatalf("Authenticate(%q) = %+v, %v; want an error wrapping ErrUnknownKey", input, got, err)
		}
		if len(input) >= 8 && strings.Contains(err.Error(), input) {
			t.Errorf("Authenticate(%q) error %q contains the input", input, err)
		}
	})
}
