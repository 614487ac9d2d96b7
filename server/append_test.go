package server

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// Events appended without HTTP, as the NATS consumer appends them, are
// stored and go through live detection.
func TestAppendRunsDetection(t *testing.T) {
	ts := startDetectionServer(t, filepath.Join(t.TempDir(), "server.db"), detect.Config{ReorderWindow: shortWindow}, nil)
	used := usedEvent("jti-append", "user-append", 0)
	revoked := used
	revoked.ID, revoked.Kind, revoked.Path, revoked.Status = audit.NewID("test", "revoked"), audit.KindRevoked, "", 0
	late := usedEvent("jti-append", "user-append", 600)
	events := []audit.Event{used, revoked, late}

	res, err := ts.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("Append() = %v", err)
	}
	if res.Inserted != 3 {
		t.Errorf("Append() inserted %d, want 3", res.Inserted)
	}
	res, err = ts.Append(context.Background(), events)
	if err != nil || res.Duplicates != 3 {
		t.Errorf("Append() again = %+v, %v, want 3 duplicates", res, err)
	}
	waitForRule(t, ts.db, "jti-append", detect.RuleRevokedTokenUse)
}

func TestAppendRejectsInvalidEvent(t *testing.T) {
	ts := newTestServer(t, nil)
	valid := usedEvent("jti-append", "user-append", 0)
	invalid := usedEvent("jti-append", "user-append", 1)
	invalid.Time = time.Time{}

	if _, err := ts.Append(context.Background(), []audit.Event{valid, invalid}); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("Append() with an event without time = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
	if n, err := ts.db.Count(context.Background()); err != nil || n != 0 {
		t.Errorf("store holds %d events after the refused batch (%v), want 0", n, err)
	}
}
