package enrich

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/tokentrail/tokentrail/audit"
)

func TestDatabaseReload(t *testing.T) {
	files := writeTestDatabases(t)
	en, logs := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn})
	ip := mustAddr(t, "81.2.69.142")

	// Replaced by a rename, as geoipupdate does.
	writeMMDB(t, files.city, "GeoLite2-City", 6, []entry{{"81.2.69.0/24", cityRecord("GB", "Manchester", 53.4808, -2.2426, 20)}})
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := en.Geo(ip); got.City != "Manchester" || got.AccuracyKM != 20 || got.ASN != 64496 {
		t.Errorf("Geo after the city database was replaced = %+v, want Manchester, radius 20, ASN 64496", got)
	}
	if !strings.Contains(logs.String(), "file reloaded") {
		t.Errorf("logs lack the reload:\n%s", logs)
	}

	// Rewritten in place, as cp does.
	data, err := os.ReadFile(files.asn)
	if err != nil {
		t.Fatal(err)
	}
	writeMMDB(t, files.asn, "GeoLite2-ASN", 6, []entry{{"81.2.69.0/24", asnRecord(64511, "Example Successor Net")}})
	replacement, err := os.ReadFile(files.asn)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.asn, data, 0o644); err != nil { // restore the old one in place
		t.Fatal(err)
	}
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if err := os.WriteFile(files.asn, replacement, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := en.Geo(ip); got.ASN != 64511 || got.Org != "Example Successor Net" {
		t.Errorf("Geo after the ASN database was rewritten in place = %+v, want ASN 64511", got)
	}
}

func TestDatabaseReloadCorruptKeepsOld(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city})
	ip := mustAddr(t, "81.2.69.142")

	writeFileAtomic(t, files.city, []byte("this is not a MaxMind database\n"))
	err := en.Refresh()
	var le *LoadError
	if !errors.As(err, &le) || le.Path != files.city || le.Kind != "city database" {
		t.Fatalf("Refresh with a corrupt database: err = %v, want a *LoadError for the city database at %s", err, files.city)
	}
	if got := en.Geo(ip); got.City != "London" {
		t.Errorf("Geo after a corrupt replacement = %+v, want the old London record", got)
	}
	if s := en.Sources()[0]; s.Err == nil || !s.Loaded {
		t.Errorf("Sources()[0] = %+v, want Err set and the old file still loaded", s)
	}
}

func TestNewFileErrors(t *testing.T) {
	files := writeTestDatabases(t)
	full, err := os.ReadFile(files.city)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(files.dir, "truncated.mmdb")
	if err := os.WriteFile(truncated, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(files.dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 random bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(files.dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(files.dir, "missing.mmdb")

	tests := []struct {
		name   string
		cfg    Config
		path   string
		target error // wrapped error, or nil to skip the check
	}{
		{"missing city database", Config{CityDB: missing}, missing, os.ErrNotExist},
		{"missing ASN database", Config{ASNDB: missing}, missing, os.ErrNotExist},
		{"truncated database", Config{CityDB: truncated}, truncated, nil},
		{"garbage database", Config{CityDB: garbage}, garbage, nil},
		{"empty database", Config{ASNDB: empty}, empty, nil},
		{"directory as database", Config{CityDB: files.dir}, files.dir, ErrNotRegularFile},
		{"missing list", Config{Lists: []ListConfig{{Name: "tor", Path: missing}}}, missing, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ReloadInterval = -1
			en, err := New(t.Context(), tt.cfg)
			if err == nil {
				_ = en.Close()
				t.Fatal("New returned no error")
			}
			var le *LoadError
			if !errors.As(err, &le) || le.Path != tt.path {
				t.Errorf("New error = %v, want a *LoadError for %s", err, tt.path)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("New error %q does not name %s", err, tt.path)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("New error = %v, want it to wrap %v", err, tt.target)
			}
		})
	}
}

func TestNewNamesEveryFailingFile(t *testing.T) {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "no-city.mmdb"), filepath.Join(dir, "no-asn.mmdb")
	_, err := New(t.Context(), Config{CityDB: city, ASNDB: asn, ReloadInterval: -1})
	if err == nil || !strings.Contains(err.Error(), city) || !strings.Contains(err.Error(), asn) {
		t.Errorf("New error = %v, want both %s and %s named", err, city, asn)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"list without name", Config{Lists: []ListConfig{{Path: "a.txt"}}}, `enrich: list 1 (path "a.txt") has no name`},
		{"list without path", Config{Lists: []ListConfig{{Name: "tor"}}}, `enrich: list "tor" has no path`},
		{"duplicate name", Config{Lists: []ListConfig{{Name: "tor", Path: "a"}, {Name: "tor", Path: "b"}}}, `enrich: list name "tor" is used twice; give each list its own name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("New error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestZeroConfig(t *testing.T) {
	en, _ := newEnricher(t, Config{})
	e := audit.Event{IP: mustAddr(t, "81.2.69.142")}
	en.Enrich(&e)
	if !e.Geo.IsZero() || en.Lists(e.IP) != nil || len(en.Sources()) != 0 {
		t.Errorf("zero Config found data: Geo %+v, Lists %q, Sources %v", e.Geo, en.Lists(e.IP), en.Sources())
	}
}

func TestClose(t *testing.T) {
	files := writeTestDatabases(t)
	dir := t.TempDir()
	en, _ := newEnricher(t, Config{
		CityDB: files.city, ASNDB: files.asn, ReloadInterval: time.Hour,
		Lists: []ListConfig{{Name: "tor", Path: writeList(t, dir, "tor.txt", "81.2.69.142\n")}},
	})
	ip := mustAddr(t, "81.2.69.142")

	if err := en.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := en.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := en.Geo(ip); !got.IsZero() {
		t.Errorf("Geo after Close = %+v, want zero", got)
	}
	if got := en.Lists(ip); got != nil {
		t.Errorf("Lists after Close = %q, want nil", got)
	}
	if err := en.Refresh(); !errors.Is(err, ErrClosed) {
		t.Errorf("Refresh after Close = %v, want ErrClosed", err)
	}
	if family, _ := en.UserAgent("curl/8.5.0"); family != "curl" {
		t.Errorf("UserAgent after Close = %q, want curl", family)
	}
}

// TestReloadGoroutine runs in a synctest bubble, whose clock advances only
// when every goroutine waits, so the polling is tested without sleeping, and
// the bubble fails the test if the reload goroutine outlives Close.
func TestReloadGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		files := writeTestDatabases(t)
		en, _ := newEnricher(t, Config{CityDB: files.city, ReloadInterval: 10 * time.Second})
		ip := mustAddr(t, "81.2.69.142")

		writeMMDB(t, files.city, "GeoLite2-City", 6, []entry{{"81.2.69.0/24", cityRecord("GB", "Leeds", 53.8008, -1.5491, 5)}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := en.Geo(ip).City; got != "London" {
			t.Errorf("City before the first poll = %q, want London", got)
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if got := en.Geo(ip).City; got != "Leeds" {
			t.Errorf("City after the first poll = %q, want Leeds", got)
		}

		if err := en.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReloadGoroutineStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		files := writeTestDatabases(t)
		ctx, cancel := context.WithCancel(t.Context())
		en, err := New(ctx, Config{CityDB: files.city, ReloadInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		synctest.Wait()
		// The goroutine has returned: Close has nothing to wait for, and the
		// bubble would report it as leaked otherwise.
		if err := en.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentLookupsDuringReload(t *testing.T) {
	files := writeTestDatabases(t)
	dir := t.TempDir()
	listPath := writeList(t, dir, "tor.txt", "81.2.69.142\n")
	en, _ := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn, Lists: []ListConfig{{Name: "tor", Path: listPath}}})
	ip := mustAddr(t, "81.2.69.142")

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				e := audit.Event{IP: ip}
				en.Enrich(&e)
				if e.Geo.City != "London" && e.Geo.City != "Leeds" {
					t.Errorf("Enrich during reload gave City %q", e.Geo.City)
					return
				}
				_ = en.Lists(ip)
			}
		})
	}
	for i := range 20 {
		city := "London"
		if i%2 == 0 {
			city = "Leeds"
		}
		writeMMDB(t, files.city, "GeoLite2-City", 6, []entry{{"81.2.69.0/24", cityRecord("GB", city, 53.8, -1.5, 5)}})
		writeList(t, dir, "tor.txt", "81.2.69.142\n# generation "+city+"\n")
		if err := en.Refresh(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestDBIPLiteShape(t *testing.T) {
	// DB-IP lite city records have no accuracy_radius, and name the city in
	// several languages.
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "dbip-city-lite.mmdb"), filepath.Join(dir, "dbip-asn-lite.mmdb")
	writeMMDB(t, city, "DBIP-City-Lite", 6, []entry{{"81.2.69.0/24", mmdbtype.Map{
		"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Munich"), "de": mmdbtype.String("München")}},
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(48.1374), "longitude": mmdbtype.Float64(11.5755)},
	}}})
	writeMMDB(t, asn, "DBIP-ASN-Lite (compat=GeoLite2-ASN)", 6, []entry{{"81.2.69.0/24", asnRecord(64501, "Example Bayern AG")}})
	en, _ := newEnricher(t, Config{CityDB: city, ASNDB: asn})

	want := audit.Geo{Country: "DE", City: "Munich", Latitude: 48.1374, Longitude: 11.5755, ASN: 64501, Org: "Example Bayern AG"}
	if got := en.Geo(mustAddr(t, "81.2.69.1")); got != want {
		t.Errorf("Geo = %+v, want %+v", got, want)
	}
}

func TestDamagedTextCleaned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, path, "GeoLite2-ASN", 6, []entry{{"81.2.69.0/24", asnRecord(64502, "Bad \xff UTF-8 "+strings.Repeat("x", 1000))}})
	en, _ := newEnricher(t, Config{ASNDB: path})

	e := audit.Event{ID: "id-1", Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: "jti-1", IP: mustAddr(t, "81.2.69.1")}
	en.Enrich(&e)
	if err := e.Validate(); err != nil {
		t.Errorf("event enriched from a damaged record fails Validate: %v", err)
	}
	if len(e.Geo.Org) > maxTextBytes || !strings.HasPrefix(e.Geo.Org, "Bad  UTF-8 x") {
		t.Errorf("Org = %q (%d bytes), want valid UTF-8 cut to %d bytes", e.Geo.Org, len(e.Geo.Org), maxTextBytes)
	}
}

// damageCityDatabase rewrites the type byte of the string "London" in the
// city test database, so that the record that holds it no longer decodes.
func damageCityDatabase(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "\x46London") // UTF-8 string of 6 bytes
	if i < 0 {
		t.Fatal("test database lacks the encoded string London")
	}
	data[i] = 0xe6 // a map of 6 pairs, whose keys are not strings
	writeFileAtomic(t, path, data)
}

func TestDamagedRecordCounted(t *testing.T) {
	files := writeTestDatabases(t)
	damageCityDatabase(t, files.city)
	en, logs := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn})

	for range 3 {
		got := en.Geo(mustAddr(t, "81.2.69.142"))
		if got.City != "" || got.ASN != 64496 {
			t.Errorf("Geo with a damaged city record = %+v, want the ASN only", got)
		}
	}
	if n := en.Sources()[0].LookupErrors; n != 3 {
		t.Errorf("LookupErrors = %d, want 3", n)
	}
	if c := strings.Count(logs.String(), "lookup failed in a damaged database"); c != 1 {
		t.Errorf("the damaged database logged %d lines, want 1:\n%s", c, logs)
	}
	if got := en.Geo(mustAddr(t, "2a01:cb00::1")); got.City != "Paris" {
		t.Errorf("Geo of an intact record = %+v, want Paris", got)
	}
}

func TestVerifyDatabasesRejectsDamage(t *testing.T) {
	files := writeTestDatabases(t)
	damageCityDatabase(t, files.city)
	_, err := New(t.Context(), Config{CityDB: files.city, VerifyDatabases: true, ReloadInterval: -1})
	var le *LoadError
	if !errors.As(err, &le) || le.Path != files.city {
		t.Errorf("New with VerifyDatabases and a damaged file: err = %v, want a *LoadError for %s", err, files.city)
	}
}
