package enrich

import (
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

func TestGeoLookup(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn})

	london := audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64496, Org: "Example Transit Ltd"}
	tests := []struct {
		name string
		ip   string
		want audit.Geo
	}{
		{"IPv4", "81.2.69.142", london},
		{"IPv4-mapped IPv6", "::ffff:81.2.69.142", london},
		{"IPv6", "2a01:cb00:1234::1", audit.Geo{Country: "FR", City: "Paris", Latitude: 48.8566, Longitude: 2.3522, AccuracyKM: 50, ASN: 64497, Org: "Example Mobile SA"}},
		{"IPv6 with zone", "2a01:cb00:1234::1%eth0", audit.Geo{Country: "FR", City: "Paris", Latitude: 48.8566, Longitude: 2.3522, AccuracyKM: 50, ASN: 64497, Org: "Example Mobile SA"}},
		{"zero position", "5.6.7.8", audit.Geo{Country: "DE", ASN: 64498, Org: "Example Hosting GmbH"}},
		{"not in databases", "8.8.8.8", audit.Geo{}},
		{"documentation range in databases", "192.0.2.10", audit.Geo{}},
		{"private", "10.1.2.3", audit.Geo{}},
		{"CGNAT", "100.64.1.1", audit.Geo{}},
		{"unique-local IPv6", "fd00::1", audit.Geo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := en.Geo(mustAddr(t, tt.ip)); got != tt.want {
				t.Errorf("Geo(%s) = %+v, want %+v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestGeoLookupZeroAddr(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn})

	var e audit.Event
	en.Enrich(&e)
	if !e.Geo.IsZero() {
		t.Errorf("Enrich of an event without IP set Geo = %+v, want zero", e.Geo)
	}
	en.Enrich(nil) // must not panic
}

func TestEnrichKeepsSourceGeo(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city, ASNDB: files.asn})

	tests := []struct {
		name      string
		ip        string
		sourceGeo audit.Geo
		want      audit.Geo
	}{
		{
			name:      "empty geo filled",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{},
			want:      audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "same country in lower case",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{Country: "gb"},
			want:      audit.Geo{Country: "gb", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "other country keeps location empty",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{Country: "US"},
			want:      audit.Geo{Country: "US", ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "other city keeps coordinates empty",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{City: "Leeds"},
			want:      audit.Geo{Country: "GB", City: "Leeds", ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "source coordinates kept without radius",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{Latitude: 51.5, Longitude: -0.12},
			want:      audit.Geo{Country: "GB", City: "London", Latitude: 51.5, Longitude: -0.12, ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "source 0/0 replaced",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{Country: "GB", City: "London", AccuracyKM: 0},
			want:      audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64496, Org: "Example Transit Ltd"},
		},
		{
			name:      "other ASN keeps organisation empty",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{ASN: 65000},
			want:      audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 65000},
		},
		{
			name:      "source organisation kept",
			ip:        "81.2.69.142",
			sourceGeo: audit.Geo{Org: "Transit as the IdP names it"},
			want:      audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64496, Org: "Transit as the IdP names it"},
		},
		{
			name:      "reserved address untouched",
			ip:        "192.168.1.5",
			sourceGeo: audit.Geo{City: "Office"},
			want:      audit.Geo{City: "Office"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := audit.Event{IP: mustAddr(t, tt.ip), Geo: tt.sourceGeo, UserAgent: "curl/8.5.0", Subject: "alice"}
			en.Enrich(&e)
			if e.Geo != tt.want {
				t.Errorf("Enrich(IP %s, Geo %+v) gave Geo %+v, want %+v", tt.ip, tt.sourceGeo, e.Geo, tt.want)
			}
			if e.UserAgent != "curl/8.5.0" || e.Subject != "alice" || e.IP != mustAddr(t, tt.ip) {
				t.Errorf("Enrich changed a field other than Geo: %+v", e)
			}
		})
	}
}

func TestGeoIPv4OnlyDatabase(t *testing.T) {
	files := writeTestDatabases(t)
	writeMMDB(t, files.city, "GeoLite2-City", 4, []entry{{"81.2.69.0/24", cityRecord("GB", "London", 51.5142, -0.0931, 10)}})
	en, logs := newEnricher(t, Config{CityDB: files.city})

	if got := en.Geo(mustAddr(t, "2a01:cb00::1")); !got.IsZero() {
		t.Errorf("Geo(IPv6) in an IPv4 database = %+v, want zero", got)
	}
	if got := en.Geo(mustAddr(t, "81.2.69.1")); got.City != "London" {
		t.Errorf("Geo(81.2.69.1).City = %q, want London", got.City)
	}
	if s := en.Sources()[0]; s.LookupErrors != 0 {
		t.Errorf("LookupErrors = %d, want 0; logs:\n%s", s.LookupErrors, logs)
	}
}

func TestGeoCityDatabaseOnly(t *testing.T) {
	files := writeTestDatabases(t)
	en, _ := newEnricher(t, Config{CityDB: files.city})

	want := audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10}
	if got := en.Geo(mustAddr(t, "81.2.69.142")); got != want {
		t.Errorf("Geo with only a city database = %+v, want %+v", got, want)
	}
}

func TestGeoDatabaseWithTraitsASN(t *testing.T) {
	files := writeTestDatabases(t)
	rec := cityRecord("GB", "London", 51.5142, -0.0931, 10)
	rec["traits"] = asnRecord(64500, "Example Enterprise Net")
	writeMMDB(t, files.city, "GeoIP2-Enterprise", 6, []entry{{"81.2.69.0/24", rec}})
	en, _ := newEnricher(t, Config{CityDB: files.city})

	want := audit.Geo{Country: "GB", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyKM: 10, ASN: 64500, Org: "Example Enterprise Net"}
	if got := en.Geo(mustAddr(t, "81.2.69.142")); got != want {
		t.Errorf("Geo = %+v, want %+v", got, want)
	}
}
