package revocation

import (
	"fmt"
	"testing"
)

// filterIDs returns n ids of the shapes token ids take: UUIDs, short
// numbers, and long ids that share a prefix or a suffix.
func filterIDs(prefix string, n int) []string {
	ids := make([]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			ids = append(ids, fmt.Sprintf("%s%08x-7b3d-4e8a-9c1f-%012x", prefix, i*7919, i))
		case 1:
			ids = append(ids, fmt.Sprintf("%s%d", prefix, i))
		case 2:
			ids = append(ids, fmt.Sprintf("%s-https://idp.example.com/realms/acme/tokens/%d", prefix, i))
		default:
			ids = append(ids, fmt.Sprintf("%s%d-https://idp.example.com/realms/acme/tokens", prefix, i))
		}
	}
	return ids
}

func TestIDFilterHasNoFalseNegatives(t *testing.T) {
	tokens, families := map[string]int64{}, map[string]int64{}
	for i, id := range filterIDs("in-", 5000) {
		if i%5 == 0 {
			families[id] = 0
		} else {
			tokens[id] = 0
		}
	}
	f := newIDFilter(tokens, families)

	for _, m := range []map[string]int64{tokens, families} {
		for id := range m {
			if !f.mayContain(id) {
				t.Fatalf("mayContain(%q) = false for an id in the filter, want true", id)
			}
		}
	}
	for _, id := range []string{"", "a", "1234567", "12345678"} {
		if !newIDFilter(map[string]int64{id: 0}, nil).mayContain(id) {
			t.Errorf("mayContain(%q) = false in a filter of that id alone, want true", id)
		}
	}
}

func TestIDFilterRejectsMostOtherIDs(t *testing.T) {
	tokens := map[string]int64{}
	for _, id := range filterIDs("in-", 1000) {
		tokens[id] = 0
	}
	f := newIDFilter(tokens, nil)

	others := filterIDs("out-", 10000)
	passed := 0
	for _, id := range others {
		if f.mayContain(id) {
			passed++
		}
	}
	// 16 bits per id let about 6% through; twice that means the hash
	// clusters and the filter saves less than it should.
	if limit := len(others) * 12 / 100; passed > limit {
		t.Errorf("ids not in the filter that mayContain passed = %d of %d, want at most %d", passed, len(others), limit)
	}
}

func TestNilIDFilterPassesAll(t *testing.T) {
	var f idFilter
	if !f.mayContain("jti-1") {
		t.Error("nil filter mayContain(jti-1) = false, want true")
	}
	if newIDFilter(nil, nil) != nil {
		t.Error("newIDFilter of empty maps is not nil, want nil")
	}
}
