package enrich

import (
	"net/netip"
	"sync"

	"github.com/tokentrail/tokentrail/audit"
)

// geoCache remembers the results of both databases for recent addresses, so
// that a repeated address, or another address of the same network, skips
// the two searches and decodes. An entry holds both results and the
// network they share: the narrower of the networks of the two records,
// which contains the address. It serves an address only when that network
// contains it, so a record for a network smaller than a /24 is never
// applied to a neighbour. An entry also names the loaded files it came
// from, and serves them only while both are still loaded, so a reload needs no
// flush.
//
// Entries sit in sets of two, picked by a hash of the address's /24 (IPv4)
// or /48 (IPv6).
type geoCache struct {
	sets []cacheSet
	mask uint64

	// locks guard the sets in stripes, set i by locks[i%cacheStripes], so
	// that concurrent lookups rarely wait for each other.
	locks [cacheStripes]paddedMutex
}

// cacheStripes is the number of locks over the sets of a geoCache.
const cacheStripes = 64

type paddedMutex struct {
	sync.Mutex
	_ [56]byte // a cache line each, so that stripes do not share one
}

type cacheSet struct {
	ways   [2]cacheEntry
	victim uint8 // the way that the next new network replaces
}

type cacheEntry struct {
	network   netip.Prefix // masked; invalid in an empty entry
	city, asn *geoReader   // the files the results came from; nil for a database not configured
	cityGeo   audit.Geo
	asnGeo    audit.Geo
}

// newGeoCache returns a cache of at least entries entries, or nil when
// entries is not positive.
func newGeoCache(entries int) *geoCache {
	if entries <= 0 {
		return nil
	}
	n := 1
	for 2*n < entries {
		n <<= 1
	}
	return &geoCache{sets: make([]cacheSet, n), mask: uint64(n - 1)}
}

// set returns the index of the set for ip.
func (c *geoCache) set(ip netip.Addr) uint64 {
	var key uint64
	if ip.Is4() {
		a := ip.As4()
		key = uint64(a[0])<<16 | uint64(a[1])<<8 | uint64(a[2])
	} else {
		a := ip.As16()
		for _, b := range a[:6] {
			key = key<<8 | uint64(b)
		}
		key |= 1 << 63 // keeps IPv6 keys apart from IPv4 ones
	}
	return mix64(key) & c.mask
}

// get returns the cached results of the files city and asn for ip.
func (c *geoCache) get(ip netip.Addr, city, asn *geoReader) (cityGeo, asnGeo audit.Geo, ok bool) {
	i := c.set(ip)
	lock := &c.locks[i%cacheStripes]
	lock.Lock()
	defer lock.Unlock()
	for w := range c.sets[i].ways {
		e := &c.sets[i].ways[w]
		if e.city == city && e.asn == asn && e.network.IsValid() && e.network.Contains(ip) {
			return e.cityGeo, e.asnGeo, true
		}
	}
	return audit.Geo{}, audit.Geo{}, false
}

// put caches the results of the files city and asn for every address of
// network, which must contain ip.
func (c *geoCache) put(ip netip.Addr, network netip.Prefix, city, asn *geoReader, cityGeo, asnGeo audit.Geo) {
	if !network.IsValid() || !network.Contains(ip) {
		return
	}
	network = network.Masked()
	i := c.set(ip)
	lock := &c.locks[i%cacheStripes]
	lock.Lock()
	defer lock.Unlock()

	s := &c.sets[i]
	w := int(s.victim)
	for k := range s.ways {
		if e := &s.ways[k]; e.network == network || e.city != city || e.asn != asn {
			// The same network again, or an entry of a file no longer
			// loaded: replace it rather than a live one.
			w = k
			break
		}
	}
	if w == int(s.victim) {
		s.victim ^= 1
	}
	s.ways[w] = cacheEntry{network: network, city: city, asn: asn, cityGeo: cityGeo, asnGeo: asnGeo}
}

// narrower returns the one of a and b with more bits, or the valid one when
// the other is not. Both must contain the same address, so the narrower is
// inside the wider.
func narrower(a, b netip.Prefix) netip.Prefix {
	switch {
	case !a.IsValid():
		return b
	case !b.IsValid():
		return a
	case b.Bits() > a.Bits():
		return b
	}
	return a
}

// mix64 spreads the bits of x over the result (the finaliser of
// SplitMix64), so that neighbouring networks land in distant sets.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
