package enrich

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestGeoCacheMatchesLookups looks up addresses in and around networks of
// several sizes, in a random order that repeats each address, with and
// without the cache, and expects the same results. A /25 inside a /24 and a
// /28 alone in its /24 check that a cached network never serves an
// address outside it.
func TestGeoCacheMatchesLookups(t *testing.T) {
	dir := t.TempDir()
	city := filepath.Join(dir, "city.mmdb")
	writeMMDB(t, city, "GeoLite2-City", 6, []entry{
		{"81.2.69.0/24", cityRecord("GB", "London", 51.5142, -0.0931, 10)},
		{"81.2.69.128/25", cityRecord("GB", "Leeds", 53.8008, -1.5491, 20)},
		{"81.2.70.16/28", cityRecord("GB", "York", 53.9590, -1.0815, 5)},
		{"2a01:cb00::/32", cityRecord("FR", "Paris", 48.8566, 2.3522, 50)},
		{"2a01:cb00:0:1::/64", cityRecord("FR", "Lyon", 45.7640, 4.8357, 25)},
	})
	cached, _ := newEnricher(t, Config{CityDB: city})
	plain, _ := newEnricher(t, Config{CityDB: city, GeoCacheSize: -1})

	var addrs []netip.Addr
	for _, base := range []string{"81.2.69.0", "81.2.70.0", "81.2.71.0"} {
		a := netip.MustParseAddr(base).As4()
		for _, last := range []byte{1, 16, 20, 31, 32, 127, 128, 200, 255} {
			a[3] = last
			addrs = append(addrs, netip.AddrFrom4(a))
		}
	}
	for _, s := range []string{"2a01:cb00::1", "2a01:cb00:0:1::9", "2a01:cb00:0:2::9", "2a01:cb01::1"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}

	rng := rand.New(rand.NewPCG(7, 11))
	for range 20 * len(addrs) {
		ip := addrs[rng.IntN(len(addrs))]
		if got, want := cached.Geo(ip), plain.Geo(ip); got != want {
			t.Fatalf("Geo(%s) with the cache = %+v, without = %+v", ip, got, want)
		}
	}
}

// TestGeoCacheEmptiedByReload checks that a result cached from the old
// file is not given after the file was replaced.
func TestGeoCacheEmptiedByReload(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city})
	ip := mustAddr(t, "81.2.69.142")
	if got := en.Geo(ip); got.City != "London" {
		t.Fatalf("Geo before the reload = %+v, want London", got)
	}

	writeMMDB(t, files.city, "GeoLite2-City", 6, []entry{{"81.2.69.0/24", cityRecord("GB", "Manchester", 53.4808, -2.2426, 20)}})
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := en.Geo(ip); got.City != "Manchester" {
		t.Errorf("Geo after the reload = %+v, want Manchester from the new file", got)
	}
}
