package enrich

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeList writes a list file into dir and returns its path.
func writeList(tb testing.TB, dir, name, text string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	writeFileAtomic(tb, path, []byte(text))
	return path
}

const blocklistText = "\xef\xbb\xbf# Example blocklist, written for this test\r\n" +
	"81.2.69.142\r\n" +
	"\r\n" +
	"5.6.7.0/24 ; inline comment in the DROP style\n" +
	"2a01:cb00:dead::/48   # IPv6 CIDR\n" +
	"2a01:cb00:beef::7\n" +
	"::ffff:9.9.9.0/120\n" +
	"11.12.13.14/16\n" +
	"not-an-address\n" +
	"300.1.2.3\n" +
	"1.2.3.0/33\n" +
	"0.0.0.0/0\n" +
	"fe80::1%eth0\n" +
	"\t  198.51.100.9 2024-01-01 score=9\n"

const torExitText = `ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
Published 2024-05-01 09:00:00
LastStatus 2024-05-01 10:00:00
ExitAddress 81.2.69.142 2024-05-01 10:05:00
ExitNode 0111BD2485AD45D984EC4159C88FC066E5E33000
Published 2024-05-01 09:00:00
LastStatus 2024-05-01 10:00:00
ExitAddress 2a01:cb00:77::1 2024-05-01 10:06:00
ExitAddress
`

func TestParseList(t *testing.T) {
	table, stats := parseList("block.txt", []byte(blocklistText))

	if stats.entries != 8 {
		t.Errorf("entries = %d, want 8", stats.entries)
	}
	var got []string
	for _, le := range stats.firstBad {
		got = append(got, le.Error())
	}
	want := []string{
		`block.txt:9: not an IP address or CIDR: "not-an-address"`,
		`block.txt:10: not an IP address or CIDR: "300.1.2.3"`,
		`block.txt:11: not a valid CIDR: "1.2.3.0/33"`,
		`block.txt:12: a /0 prefix would match every address: "0.0.0.0/0"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("bad lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if stats.badLines != len(want) {
		t.Errorf("badLines = %d, want %d", stats.badLines, len(want))
	}

	contains := []struct {
		ip   string
		want bool
	}{
		{"81.2.69.142", true},
		{"81.2.69.143", false},
		{"5.6.7.200", true},
		{"5.6.8.1", false},
		{"2a01:cb00:dead:1::1", true},
		{"2a01:cb00:deae::1", false},
		{"2a01:cb00:beef::7", true},
		{"9.9.9.9", true},             // from ::ffff:9.9.9.0/120
		{"11.12.200.1", true},         // host bits of 11.12.13.14/16 cleared
		{"fe80::1", true},             // zone dropped
		{"198.51.100.9", true},        // fields after the address ignored
		{"2001:4860::1", false},       // no /0 was loaded
		{"1.2.3.4", false},            // the /33 line was skipped
		{"::ffff:81.2.69.142", false}, // callers unmap first; Lists does
	}
	for _, c := range contains {
		if got := table.Contains(mustAddr(t, c.ip)); got != c.want {
			t.Errorf("list contains %s = %v, want %v", c.ip, got, c.want)
		}
	}
}

func TestParseListTorExitAddresses(t *testing.T) {
	table, stats := parseList("exits.txt", []byte(torExitText))
	if stats.entries != 2 {
		t.Errorf("entries = %d, want 2", stats.entries)
	}
	if len(stats.firstBad) != 1 || stats.firstBad[0].Error() != `exits.txt:9: ExitAddress line without an address: "ExitAddress"` {
		t.Errorf("bad lines = %v, want the one ExitAddress line without address", stats.firstBad)
	}
	for _, ip := range []string{"81.2.69.142", "2a01:cb00:77::1"} {
		if !table.Contains(mustAddr(t, ip)) {
			t.Errorf("Tor list lacks %s", ip)
		}
	}
}

func TestParseListBadLinesBounded(t *testing.T) {
	text := strings.Repeat("garbage\n", 5000) + "81.2.69.142\n"
	_, stats := parseList("junk.txt", []byte(text))
	if stats.badLines != 5000 || len(stats.firstBad) != maxLineErrors || stats.entries != 1 {
		t.Errorf("badLines, kept, entries = %d, %d, %d, want 5000, %d, 1", stats.badLines, len(stats.firstBad), stats.entries, maxLineErrors)
	}
}

func TestParseListLongBinaryLine(t *testing.T) {
	line := make([]byte, 1<<20)
	for i := range line {
		line[i] = byte(i*7 + 3)
	}
	_, stats := parseList("bin.txt", append(append(line, '\n'), "81.2.69.142\n"...))
	if stats.entries != 1 {
		t.Errorf("entries = %d, want 1", stats.entries)
	}
	for _, le := range stats.firstBad {
		if len(le.Text) > 100 {
			t.Errorf("LineError.Text has %d bytes, want it cut", len(le.Text))
		}
	}
}

func TestLists(t *testing.T) {
	dir := t.TempDir()
	en, logs := newEnricher(t, Config{Lists: []ListConfig{
		{Name: "blocklist", Path: writeList(t, dir, "block.txt", blocklistText)},
		{Name: "tor-exit", Path: writeList(t, dir, "exits.txt", torExitText)},
		{Name: "empty", Path: writeList(t, dir, "empty.txt", "# nothing listed today\n")},
	}})

	tests := []struct {
		ip   string
		want []string
	}{
		{"81.2.69.142", []string{"blocklist", "tor-exit"}},
		{"::ffff:81.2.69.142", []string{"blocklist", "tor-exit"}},
		{"2a01:cb00:77::1", []string{"tor-exit"}},
		{"5.6.7.8", []string{"blocklist"}},
		{"8.8.8.8", nil},
	}
	for _, tt := range tests {
		if got := en.Lists(mustAddr(t, tt.ip)); !slices.Equal(got, tt.want) {
			t.Errorf("Lists(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if got := en.Lists(mustAddr(t, "198.51.100.9")); !slices.Equal(got, []string{"blocklist"}) {
		t.Errorf("Lists(198.51.100.9) = %q, want [blocklist]: reserved addresses are looked up in lists", got)
	}

	blockPath := filepath.Join(dir, "block.txt")
	for _, want := range []string{
		"location=" + blockPath + ":9 ",
		"location=" + blockPath + ":12 ",
		"location=" + filepath.Join(dir, "exits.txt") + ":9 ",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	sources := en.Sources()
	if len(sources) != 3 {
		t.Fatalf("Sources() has %d entries, want 3", len(sources))
	}
	if s := sources[0]; s.Kind != "list" || s.Name != "blocklist" || s.Entries != 8 || s.BadLines != 4 || !s.Loaded || s.Err != nil {
		t.Errorf("Sources()[0] = %+v, want list blocklist with 8 entries and 4 bad lines", s)
	}
	if s := sources[2]; s.Entries != 0 || !s.Loaded || s.Err != nil {
		t.Errorf("Sources()[2] = %+v, want an empty list loaded", s)
	}
}

func TestListsOnlyBadLines(t *testing.T) {
	dir := t.TempDir()
	path := writeList(t, dir, "page.html", "<html>\n<body>rate limited</body>\n</html>\n")
	_, err := New(t.Context(), Config{ReloadInterval: -1, Lists: []ListConfig{{Name: "feed", Path: path}}})

	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrNoEntries) {
		t.Fatalf("New with an HTML page as list: err = %v, want a *LoadError wrapping ErrNoEntries", err)
	}
	if le.Path != path || le.Name != "feed" || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadError = %+v, message %q; want it to name list feed and %s", le, err, path)
	}
}

func TestListReload(t *testing.T) {
	dir := t.TempDir()
	path := writeList(t, dir, "block.txt", "81.2.69.142\n")
	en, logs := newEnricher(t, Config{Lists: []ListConfig{{Name: "blocklist", Path: path}}})
	old, fresh := mustAddr(t, "81.2.69.142"), mustAddr(t, "5.6.7.8")

	writeList(t, dir, "block.txt", "5.6.7.8\n")
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if en.Lists(old) != nil || en.Lists(fresh) == nil {
		t.Errorf("after reload Lists(old) = %q, Lists(new) = %q, want nil and [blocklist]", en.Lists(old), en.Lists(fresh))
	}

	// A replacement with only invalid lines keeps the list in use.
	writeList(t, dir, "block.txt", "<html>error</html>\n")
	err := en.Refresh()
	if !errors.Is(err, ErrNoEntries) || !strings.Contains(err.Error(), path) {
		t.Errorf("Refresh with a broken list: err = %v, want ErrNoEntries naming %s", err, path)
	}
	if en.Lists(fresh) == nil {
		t.Error("the broken replacement dropped the list loaded before")
	}
	if !strings.Contains(logs.String(), "file not reloaded") {
		t.Errorf("logs lack the failed reload:\n%s", logs)
	}
	if s := en.Sources()[0]; s.Err == nil || s.Entries != 1 {
		t.Errorf("Sources()[0] = %+v, want Err set and the 1 entry still in use", s)
	}

	// An unchanged file is not parsed again, so its error is not repeated.
	if err := en.Refresh(); err != nil {
		t.Errorf("Refresh of an unchanged file = %v, want nil", err)
	}

	// A missing file is reported once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := en.Refresh(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Refresh of a removed list = %v, want os.ErrNotExist", err)
	}
	if err := en.Refresh(); err != nil {
		t.Errorf("second Refresh of a removed list = %v, want nil", err)
	}
	if en.Lists(fresh) == nil {
		t.Error("removing the file dropped the list loaded before")
	}

	writeList(t, dir, "block.txt", "81.2.69.142\n")
	if err := en.Refresh(); err != nil {
		t.Fatalf("Refresh after the file came back: %v", err)
	}
	if en.Lists(old) == nil {
		t.Error("the restored list was not loaded")
	}
}
