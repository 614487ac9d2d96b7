package postgres_test

import (
	"testing"

	"github.com/tokentrail/tokentrail/store/postgres"
)

func TestStoreNames(t *testing.T) {
	tests := []struct {
		name            string
		isURL, settings bool
	}{
		{"postgres://u@h/db", true, false},
		{"POSTGRESQL://u@h/db", true, false},
		{"postgres:u:secret@h", false, true},
		{"Postgresql:u@h:5432", false, true},
		{"host=h user=u password=secret dbname=db", false, true},
		{"./trail.db", false, false},
		{"/var/lib/tokentrail/host=a.db", false, false},
	}
	for _, tt := range tests {
		if got := postgres.IsURL(tt.name); got != tt.isURL {
			t.Errorf("IsURL(%q) = %v, want %v", tt.name, got, tt.isURL)
		}
		if got := postgres.LooksLikeSettings(tt.name); got != tt.settings {
			t.Errorf("LooksLikeSettings(%q) = %v, want %v", tt.name, got, tt.settings)
		}
	}
	if got := postgres.NormalURL("POSTGRES://u@h/db"); got != "postgres://u@h/db" {
		t.Errorf("NormalURL = %q, want the scheme in lower case", got)
	}
}
