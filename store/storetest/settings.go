package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/tokentrail/tokentrail/store"
)

// testSettings checks a store that implements store.SettingStore; a store
// that does not is skipped.
func testSettings(t *testing.T, s store.Store) {
	ss, ok := s.(store.SettingStore)
	if !ok {
		t.Skip("the store does not implement store.SettingStore")
	}
	ctx := context.Background()

	if value, found, err := ss.Setting(ctx, "detection"); err != nil || found || value != nil {
		t.Fatalf("Setting on a new store = %q, %v, %v; want nothing", value, found, err)
	}

	for _, want := range [][]byte{[]byte("rules: {}\n"), []byte("rules:\n  high_frequency: {max_uses: 100}\n"), {}} {
		if err := ss.SetSetting(ctx, "detection", want); err != nil {
			t.Fatalf("SetSetting(%q) = %v", want, err)
		}
		got, found, err := ss.Setting(ctx, "detection")
		if err != nil || !found || !bytes.Equal(got, want) {
			t.Errorf("Setting after SetSetting(%q) = %q, %v, %v; want the value just stored", want, got, found, err)
		}
	}

	if _, found, err := ss.Setting(ctx, "other"); err != nil || found {
		t.Errorf("Setting of another name = found %v, %v; want nothing", found, err)
	}
}
