package enrich

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/tokentrail/tokentrail/audit"
)

// benchNetworks is the number of /24 networks in the benchmark databases.
// GeoLite2-City holds a few million networks; the lookup cost grows with
// the depth of the search tree, which is at most 32 steps for IPv4.
const benchNetworks = 50000

// writeBenchDatabases writes a city and an ASN database of benchNetworks
// random /24 networks and returns their paths and an address in each.
func writeBenchDatabases(b *testing.B) (city, asn string, addrs []netip.Addr) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	cities := []entry{
		{"", cityRecord("GB", "London", 51.5142, -0.0931, 10)},
		{"", cityRecord("FR", "Paris", 48.8566, 2.3522, 50)},
		{"", cityRecord("DE", "Munich", 48.1374, 11.5755, 20)},
		{"", cityRecord("US", "Chicago", 41.8781, -87.6298, 100)},
	}
	var cityNets, asnNets []entry
	seen := map[netip.Addr]bool{}
	for len(addrs) < benchNetworks {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		if _, reserved := Reserved(a); reserved || seen[a] {
			continue
		}
		seen[a] = true
		network := a.String() + "/24"
		i := len(addrs)
		cityNets = append(cityNets, entry{network, cities[i%len(cities)].record})
		asnNets = append(asnNets, entry{network, asnRecord(uint32(64496+i%16), fmt.Sprintf("Example Net %d", i%16))})
		addrs = append(addrs, a.Next())
	}
	dir := b.TempDir()
	city, asn = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	writeMMDB(b, city, "GeoLite2-City", 6, cityNets)
	writeMMDB(b, asn, "GeoLite2-ASN", 6, asnNets)
	return city, asn, addrs
}

// BenchmarkEnrich measures Enrich of one event with both databases loaded,
// beside a bare maxminddb lookup of the same addresses decoding the same
// fields from the city database alone.
func BenchmarkEnrich(b *testing.B) {
	city, asn, addrs := writeBenchDatabases(b)

	b.Run("Enrich", func(b *testing.B) {
		en, _ := newEnricher(b, Config{CityDB: city, ASNDB: asn})
		e := audit.Event{UserAgent: "curl/8.5.0"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.IP = addrs[i%len(addrs)]
			e.Geo = audit.Geo{}
			en.Enrich(&e)
			i++
		}
		if e.Geo.City == "" || e.Geo.ASN == 0 {
			b.Fatalf("Enrich found nothing: %+v", e.Geo)
		}
	})

	b.Run("maxminddb.Lookup", func(b *testing.B) {
		reader, err := maxminddb.Open(city)
		if err != nil {
			b.Fatal(err)
		}
		defer reader.Close()
		var rec geoRecord
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rec = geoRecord{}
			if err := reader.Lookup(addrs[i%len(addrs)]).Decode(&rec); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if rec.City.Names.English == "" {
			b.Fatal("Lookup found nothing")
		}
	})

	b.Run("maxminddb.Lookup/parallel", func(b *testing.B) {
		reader, err := maxminddb.Open(city)
		if err != nil {
			b.Fatal(err)
		}
		defer reader.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var rec geoRecord
			i := 0
			for pb.Next() {
				rec = geoRecord{}
				if err := reader.Lookup(addrs[i%len(addrs)]).Decode(&rec); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})

	b.Run("Enrich/parallel", func(b *testing.B) {
		en, _ := newEnricher(b, Config{CityDB: city, ASNDB: asn})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var e audit.Event
			i := 0
			for pb.Next() {
				e.IP = addrs[i%len(addrs)]
				e.Geo = audit.Geo{}
				en.Enrich(&e)
				i++
			}
		})
	})
}

// benchListSize is the number of CIDRs in the benchmark list.
const benchListSize = 100000

// writeBenchList writes a list of benchListSize random IPv4 and IPv6 CIDRs
// and returns its text, an address inside the first CIDR and one outside.
func writeBenchList() (text string, hits, misses []netip.Addr) {
	rng := rand.New(rand.NewPCG(3, 4))
	var sb strings.Builder
	sb.WriteString("# benchmark list, random networks\n")
	for i := range benchListSize {
		var p netip.Prefix
		if i%5 == 4 {
			var a [16]byte
			a[0], a[1] = 0x2a, byte(rng.IntN(256))
			for j := 2; j < 8; j++ {
				a[j] = byte(rng.IntN(256))
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+rng.IntN(33)).Masked()
		} else {
			a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			p = netip.PrefixFrom(a, 16+rng.IntN(17)).Masked()
		}
		sb.WriteString(p.String())
		sb.WriteByte('\n')
		if len(hits) < 1000 {
			hits = append(hits, p.Addr())
		}
	}
	for len(misses) < 1000 {
		misses = append(misses, netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}))
	}
	return sb.String(), hits, misses
}

// BenchmarkLists measures Lists with one list of 100,000 CIDRs loaded, for
// addresses in the list and random addresses (mostly not in it), and the
// load of that list.
func BenchmarkLists(b *testing.B) {
	text, hits, misses := writeBenchList()
	path := writeList(b, b.TempDir(), "big.txt", text)
	en, _ := newEnricher(b, Config{Lists: []ListConfig{{Name: "big", Path: path}}})
	if got := en.Sources()[0].Entries; got != benchListSize {
		b.Fatalf("loaded %d entries, want %d", got, benchListSize)
	}

	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if en.Lists(hits[i%len(hits)]) == nil {
				b.Fatal("miss on a listed address")
			}
			i++
		}
	})
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = en.Lists(misses[i%len(misses)])
			i++
		}
	})
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if _, stats := parseList(path, []byte(text)); stats.entries != benchListSize {
				b.Fatalf("parsed %d entries", stats.entries)
			}
		}
	})
}

// BenchmarkUserAgent measures UserAgent on a browser user agent, cached and
// not.
func BenchmarkUserAgent(b *testing.B) {
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	for _, size := range []int{DefaultUserAgentCacheSize, -1} {
		name := "cached"
		if size < 0 {
			name = "uncached"
		}
		b.Run(name, func(b *testing.B) {
			en, _ := newEnricher(b, Config{UserAgentCacheSize: size})
			b.ReportAllocs()
			for b.Loop() {
				if family, _ := en.UserAgent(chrome); family != "Chrome" {
					b.Fatal(family)
				}
			}
		})
	}
}
