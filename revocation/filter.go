package revocation

// idFilter is a bitset over the token ids and family ids of one generation
// of tables, which check tests before it looks an id up in those maps. Most presented
// tokens are not revoked, and a bit test costs less than hashing the id
// and probing a map that may not be in the processor's caches. A clear bit
// proves that the id is in neither map. A set bit proves nothing, and the
// maps decide. The nil idFilter proves nothing either.
type idFilter []uint64

// bitsPerID sizes a filter, so that about 1 in 16 ids that are not in the
// maps finds its bit set and costs a map lookup.
const bitsPerID = 16

// newIDFilter returns the filter of the keys of tokens and families.
func newIDFilter(tokens, families map[string]int64) idFilter {
	n := len(tokens) + len(families)
	if n == 0 {
		return nil
	}
	words := 1
	for words*64 < n*bitsPerID {
		words *= 2
	}
	f := make(idFilter, words)
	for id := range tokens {
		f.add(id)
	}
	for id := range families {
		f.add(id)
	}
	return f
}

func (f idFilter) add(id string) {
	bit := idHash(id) & uint64(len(f)*64-1)
	f[bit/64] |= 1 << (bit % 64)
}

// mayContain reports false when id is certainly not a key of the maps the
// filter was built from.
func (f idFilter) mayContain(id string) bool {
	if len(f) == 0 {
		return true
	}
	bit := idHash(id) & uint64(len(f)*64-1)
	return f[bit/64]&(1<<(bit%64)) != 0
}

// idHash mixes the length and up to 8 bytes from each end of id. Token ids
// such as UUIDs and ULIDs end in random characters. Ids of one length that
// differ only in their middle collide, which costs each of them the map
// lookup, so a caller who picks ids to collide gains nothing.
func idHash(id string) uint64 {
	const (
		m1 = 0x9e3779b97f4a7c15
		m2 = 0xbf58476d1ce4e5b9
	)
	h := uint64(len(id)) * m1
	if len(id) < 8 {
		for i := 0; i < len(id); i++ {
			h = (h ^ uint64(id[i])) * m2
		}
		return h ^ h>>31
	}
	head := load64(id[:8])
	tail := load64(id[len(id)-8:])
	h = (h ^ head) * m2
	h = (h ^ tail) * m1
	return h ^ h>>29
}

// load64 reads the 8 bytes of s as a little-endian number.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
