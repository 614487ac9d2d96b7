package enrich

import (
	"bytes"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/gaissmai/bart"
)

// maxLineErrors bounds the skipped lines a list load keeps for the log, so
// that a binary file passed as a list costs no more memory than a good one.
const maxLineErrors = 20

// ipList is one named threat-intel list, swapped whole on reload.
type ipList struct {
	name   string
	file   *watchedFile
	active atomic.Pointer[bart.Lite]
}

func newIPList(name, path string) *ipList {
	l := &ipList{name: name}
	l.file = &watchedFile{kind: "list", name: name, path: path, parse: l.parse}
	return l
}

func (l *ipList) parse(data []byte) (parseStats, error) {
	table, stats := parseList(l.file.path, data)
	if stats.entries == 0 && stats.badLines > 0 {
		return stats, ErrNoEntries
	}
	l.active.Store(table)
	return stats, nil
}

// contains reports whether ip, valid and unmapped, lies in the list.
func (l *ipList) contains(ip netip.Addr) bool {
	t := l.active.Load()
	return t != nil && t.Contains(ip)
}

// Keywords of the Tor exit-addresses format. Each relay there is a block of
// lines; only ExitAddress lines name an address.
var (
	torExitAddress = []byte("ExitAddress")
	torOtherFields = [][]byte{[]byte("ExitNode"), []byte("Published"), []byte("LastStatus")}
)

// parseList reads a list file of one IPv4 or IPv6 address or CIDR per line.
// Comments run from '#' or ';' to the end of the line, and blank lines are
// skipped. The ExitNode, Published, LastStatus and ExitAddress lines of the
// Tor exit-addresses format are read too. Text after the first field of a
// line is ignored, since many feeds put a date or score there. Each line that
// names no valid address is counted and skipped.
func parseList(path string, data []byte) (*bart.Lite, parseStats) {
	var (
		table bart.Lite
		stats parseStats
	)
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}

		prefix, ok, reason := parseListLine(line)
		switch {
		case reason != "":
			stats.badLines++
			if len(stats.firstBad) < maxLineErrors {
				stats.firstBad = append(stats.firstBad, newLineError(path, lineNo, bytes.TrimSpace(line), reason))
			}
		case ok:
			table.Insert(prefix)
			stats.entries++
		}
	}
	return &table, stats
}

// parseListLine returns the prefix that line names. ok is false and reason
// empty for a blank, comment or Tor metadata line. For a line that should
// name an address and does not, reason is the error message.
func parseListLine(line []byte) (prefix netip.Prefix, ok bool, reason string) {
	if i := bytes.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	fields := bytes.Fields(line)
	if len(fields) == 0 {
		return netip.Prefix{}, false, ""
	}

	field := fields[0]
	if bytes.Equal(field, torExitAddress) {
		if len(fields) < 2 {
			return netip.Prefix{}, false, "ExitAddress line without an address"
		}
		field = fields[1]
	}
	for _, k := range torOtherFields {
		if bytes.Equal(field, k) {
			return netip.Prefix{}, false, ""
		}
	}
	return parseListEntry(string(field))
}

// parseListEntry parses an address or a CIDR into the prefix a lookup of an
// unmapped address matches: IPv4-mapped IPv6 becomes IPv4, the zone is
// dropped, and host bits of a CIDR are cleared.
func parseListEntry(s string) (netip.Prefix, bool, string) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false, "not an IP address or CIDR"
		}
		addr = addr.Unmap().WithZone("")
		return netip.PrefixFrom(addr, addr.BitLen()), true, ""
	}

	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false, "not a valid CIDR"
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, false, "a /0 prefix would match every address"
	}
	return p.Masked(), true, ""
}
