package enrich

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// cityRecord builds a record shaped like those of GeoLite2-City.
func cityRecord(country, city string, lat, lon float64, radius uint16) mmdbtype.Map {
	rec := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
		"country": mmdbtype.Map{
			"iso_code": mmdbtype.String(country),
			"names":    mmdbtype.Map{"en": mmdbtype.String(country + " (English)"), "de": mmdbtype.String(country + " (Deutsch)")},
		},
		"location": mmdbtype.Map{
			"latitude":        mmdbtype.Float64(lat),
			"longitude":       mmdbtype.Float64(lon),
			"accuracy_radius": mmdbtype.Uint16(radius),
			"time_zone":       mmdbtype.String("Europe/London"),
		},
	}
	if city != "" {
		rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{
			"de": mmdbtype.String(city + " (Deutsch)"),
			"en": mmdbtype.String(city),
		}}
	}
	return rec
}

// asnRecord builds a record shaped like those of GeoLite2-ASN.
func asnRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// entry is one network of a test database.
type entry struct {
	network string
	record  mmdbtype.Map
}

// writeMMDB builds a MaxMind DB of the given type holding entries and writes
// it to path. ipVersion is 4 or 6.
func writeMMDB(tb testing.TB, path, dbType string, ipVersion int, entries []entry) {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		IPVersion:               ipVersion,
		RecordSize:              28,
		IncludeReservedNetworks: true, // so that a test can show a reserved address is not looked up
		Languages:               []string{"en", "de"},
	})
	if err != nil {
		tb.Fatalf("mmdbwriter.New: %v", err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.network)
		if err != nil {
			tb.Fatalf("parse %s: %v", e.network, err)
		}
		if err := tree.Insert(network, e.record); err != nil {
			tb.Fatalf("insert %s: %v", e.network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatalf("write database: %v", err)
	}
	writeFileAtomic(tb, path, buf.Bytes())
}

// writeFileAtomic replaces path with data by a rename, as geoipupdate and
// most feed downloaders do.
func writeFileAtomic(tb testing.TB, path string, data []byte) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// The test databases. Their networks are public ranges with invented data,
// and their ASNs come from the range reserved for documentation (RFC 5398).
var (
	cityEntries = []entry{
		{"81.2.69.0/24", cityRecord("GB", "London", 51.5142, -0.0931, 10)},
		{"2a01:cb00::/32", cityRecord("FR", "Paris", 48.8566, 2.3522, 50)},
		{"5.6.7.0/24", cityRecord("DE", "", 0, 0, 1000)}, // country only, 0/0 position
		{"192.0.2.0/24", cityRecord("ZZ", "Nowhere", 10, 10, 1)},
	}
	asnEntries = []entry{
		{"81.2.69.0/24", asnRecord(64496, "Example Transit Ltd")},
		{"2a01:cb00::/32", asnRecord(64497, "Example Mobile SA")},
		{"5.6.7.0/24", asnRecord(64498, "Example Hosting GmbH")},
		{"192.0.2.0/24", asnRecord(64499, "Documentation Net")},
	}
)

// testFiles are the paths of the databases that newTestEnricher wrote.
type testFiles struct {
	dir, city, asn string
}

// writeTestDatabases writes the city and ASN test databases into a new
// temporary folder.
func writeTestDatabases(tb testing.TB) testFiles {
	tb.Helper()
	dir := tb.TempDir()
	f := testFiles{dir: dir, city: filepath.Join(dir, "city.mmdb"), asn: filepath.Join(dir, "asn.mmdb")}
	writeMMDB(tb, f.city, "GeoLite2-City", 6, cityEntries)
	writeMMDB(tb, f.asn, "GeoLite2-ASN", 6, asnEntries)
	return f
}

// newEnricher calls New with cfg and a logger that writes into the returned
// buffer, and closes the Enricher when the test ends.
func newEnricher(tb testing.TB, cfg Config) (*Enricher, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = -1 // tests call Refresh
	}
	en, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = en.Close() })
	return en, logs
}

// syncBuffer is a bytes.Buffer that a logger and a test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustAddr(tb testing.TB, s string) netip.Addr {
	tb.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
