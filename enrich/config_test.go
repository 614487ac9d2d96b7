package enrich

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	const text = `
city_db: /var/lib/GeoIP/GeoLite2-City.mmdb
asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb
reload_interval: 5m
verify_databases: true
user_agent_cache_size: 2000
lists:
  - name: tor-exit
    path: /var/lib/tokentrail/tor-exit-addresses.txt
  - name: blocklist
    path: /etc/tokentrail/blocklist.txt
`
	got, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	want := Config{
		CityDB:             "/var/lib/GeoIP/GeoLite2-City.mmdb",
		ASNDB:              "/var/lib/GeoIP/GeoLite2-ASN.mmdb",
		ReloadInterval:     5 * time.Minute,
		VerifyDatabases:    true,
		UserAgentCacheSize: 2000,
		Lists: []ListConfig{
			{Name: "tor-exit", Path: "/var/lib/tokentrail/tor-exit-addresses.txt"},
			{Name: "blocklist", Path: "/etc/tokentrail/blocklist.txt"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseConfig =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	got, err := ParseConfig(nil)
	if err != nil || !reflect.DeepEqual(got, Config{}) {
		t.Errorf("ParseConfig(nil) = %+v, %v, want zero Config, nil", got, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"misspelt key", "city_dbb: x.mmdb\n", "line 1: city_dbb: unknown key (did you mean city_db?); the keys here are asn_db, city_db,"},
		{"misspelt list key", "lists:\n  - name: tor\n    paht: tor.txt\n", "line 3: lists[0].paht: unknown key (did you mean path?); the keys here are name, path"},
		{"bad duration", "reload_interval: often\n", `line 1: reload_interval: "often" is not a duration; write a duration with a unit`},
		{"duration without unit", "reload_interval: 30\n", "line 1: reload_interval: 30 has no unit; write 30s for seconds"},
		{"list without name", "lists:\n  - name: a\n    path: a.txt\n  - path: b.txt\n", `line 4: lists[1].name: list 2 (path "b.txt") has no name`},
		{"list without path", "lists:\n  - name: a\n", `line 2: lists[0].path: list "a" has no path`},
		{"list name twice", "lists:\n  - name: a\n    path: a.txt\n  - name: a\n    path: b.txt\n", `line 4: lists[1].name: list name "a" is used twice`},
		{"list as string", "lists: tor.txt\n", `line 1: lists: want a list, such as [a, b] or one "- item" per line, not "tor.txt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.text))
			if err == nil || !strings.HasPrefix(err.Error(), "enrich: parse config: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConfig(%q) error = %v, want one containing %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestReadConfigFileResolvesRelativePaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "settings")
	if err := os.MkdirAll(filepath.Join(dir, "lists"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lists", "block.txt"), []byte("45.33.32.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "enrich.yaml")
	text := "city_db: GeoLite2-City.mmdb\nasn_db: /abs/GeoLite2-ASN.mmdb\nlists:\n  - name: block\n    path: lists/block.txt\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := ReadConfigFile(path)
	if err != nil {
		t.Fatalf("ReadConfigFile: %v", err)
	}
	if want := filepath.Join(dir, "GeoLite2-City.mmdb"); cfg.CityDB != want {
		t.Errorf("CityDB = %q, want %q", cfg.CityDB, want)
	}
	if cfg.ASNDB != "/abs/GeoLite2-ASN.mmdb" {
		t.Errorf("ASNDB = %q, want the absolute path kept", cfg.ASNDB)
	}
	if want := filepath.Join(dir, "lists", "block.txt"); cfg.Lists[0].Path != want {
		t.Errorf("Lists[0].Path = %q, want %q", cfg.Lists[0].Path, want)
	}

	// The list loads whatever the working directory is.
	cfg.CityDB, cfg.ASNDB = "", ""
	en, _ := newEnricher(t, cfg)
	if got := en.Lists(netip.MustParseAddr("45.33.32.156")); len(got) != 1 || got[0] != "block" {
		t.Errorf("Lists(45.33.32.156) = %v, want [block]", got)
	}
}

func TestReadConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadConfigFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "enrich: read config") {
		t.Errorf("ReadConfigFile(missing) = %v, want a read error", err)
	}
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte("listz: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfigFile(path); err == nil || !strings.Contains(err.Error(), "line 1: listz: unknown key (did you mean lists?)") {
		t.Errorf("ReadConfigFile(bad) = %v, want the unknown key at line 1", err)
	}
}
