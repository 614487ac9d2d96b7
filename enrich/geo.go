package enrich

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/tokentrail/tokentrail/audit"
)

// geoRecord holds the fields that Enrich reads from a MaxMind-format record.
// One shape serves every supported database: GeoLite2-City and DB-IP lite
// city fill city, country and location; GeoLite2-ASN and DB-IP lite ASN fill
// the top-level autonomous_system fields; GeoIP2 and DB-IP commercial
// databases keep the ASN under traits. Fields a database lacks stay zero.
type geoRecord struct {
	City struct {
		Names struct {
			English string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"` // km
	} `maxminddb:"location"`
	ASN    uint32 `maxminddb:"autonomous_system_number"`
	ASOrg  string `maxminddb:"autonomous_system_organization"`
	Traits struct {
		ASN   uint32 `maxminddb:"autonomous_system_number"`
		ASOrg string `maxminddb:"autonomous_system_organization"`
	} `maxminddb:"traits"`
}

// geo converts r to an audit.Geo. A 0/0 or out-of-range position means no
// position, and then the accuracy radius is dropped with it.
func (r *geoRecord) geo() audit.Geo {
	g := audit.Geo{
		Country:    cleanText(r.Country.ISOCode),
		City:       cleanText(r.City.Names.English),
		Latitude:   r.Location.Latitude,
		Longitude:  r.Location.Longitude,
		AccuracyKM: float64(r.Location.AccuracyRadius),
		ASN:        r.ASN,
		Org:        cleanText(r.ASOrg),
	}
	if g.ASN == 0 {
		g.ASN = r.Traits.ASN
	}
	if g.Org == "" {
		g.Org = cleanText(r.Traits.ASOrg)
	}
	if !g.HasCoordinates() {
		g.Latitude, g.Longitude, g.AccuracyKM = 0, 0, 0
	}
	return g
}

// maxTextBytes bounds a name taken from a database, far above any real city
// or network owner's name.
const maxTextBytes = 256

// cleanText returns s as valid UTF-8 of at most maxTextBytes, so that a
// damaged database cannot make an event fail audit.Event.Validate. It
// allocates only when s needs repair.
func cleanText(s string) string {
	if len(s) > maxTextBytes {
		s = s[:maxTextBytes]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

// geoReader is one loaded database file.
type geoReader struct {
	reader   *maxminddb.Reader
	ipv4Only bool // the database has no IPv6 tree, so IPv6 lookups find nothing

	// errorLogged is set once a lookup error of this file has been logged,
	// so that a damaged file logs one line, not one per event.
	errorLogged atomic.Bool
}

// database is a MaxMind-format database file, loaded into memory and swapped
// whole on reload, so that lookups never see a file that is half rewritten.
type database struct {
	file   *watchedFile
	verify bool
	active atomic.Pointer[geoReader]

	lookupErrors atomic.Uint64
}

func newDatabase(kind, path string, verify bool) *database {
	d := &database{verify: verify}
	d.file = &watchedFile{kind: kind, path: path, parse: d.parse}
	return d
}

// parse opens data as a MaxMind DB and makes it the active reader. The bytes
// are kept in memory, not mapped, because a memory-mapped file that another
// process rewrites in place can change or fault under a running lookup.
func (d *database) parse(data []byte) (parseStats, error) {
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return parseStats{}, err
	}
	if d.verify {
		if err := r.Verify(); err != nil {
			return parseStats{}, err
		}
	}
	d.active.Store(&geoReader{reader: r, ipv4Only: r.Metadata.IPVersion == 4})
	return parseStats{}, nil
}

// recordPool recycles geoRecords, because Decode takes its target as an
// interface, which would otherwise move the record to the heap on each call.
var recordPool = sync.Pool{New: func() any { return new(geoRecord) }}

// loaded returns the loaded file of d, or nil when d is nil or closed.
func (d *database) loaded() *geoReader {
	if d == nil {
		return nil
	}
	return d.active.Load()
}

// lookup returns the record of the file g for ip, which must be valid and
// unmapped, and the network that the record covers. An ip that is not
// found gives the zero Geo and the network of the gap it falls in, and no
// error. The error is that of a damaged record.
func (d *database) lookup(g *geoReader, ip netip.Addr) (audit.Geo, netip.Prefix, error) {
	if g == nil || (g.ipv4Only && ip.Is6()) {
		return audit.Geo{}, netip.Prefix{}, nil
	}

	result := g.reader.Lookup(ip)
	if !result.Found() {
		if err := result.Err(); err != nil {
			d.lookupErrors.Add(1)
			return audit.Geo{}, netip.Prefix{}, err
		}
		return audit.Geo{}, result.Prefix(), nil
	}

	rec := recordPool.Get().(*geoRecord)
	*rec = geoRecord{}
	err := result.Decode(rec)
	geo := rec.geo()
	recordPool.Put(rec)
	if err != nil {
		d.lookupErrors.Add(1)
		return audit.Geo{}, netip.Prefix{}, err
	}
	return geo, result.Prefix(), nil
}

// close drops the active reader, so that its memory can be freed.
func (d *database) close() {
	d.active.Store(nil)
}
