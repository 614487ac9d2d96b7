package enrich

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Enricher adds to events what the configured databases, lists and the
// user-agent parser hold about their addresses and clients. Its methods are
// safe for concurrent use. A reload swaps a file's contents whole, so a
// lookup reads either the old or the new file, never a mix.
type Enricher struct {
	city, asn *database // nil when not configured
	lists     []*ipList
	files     []*watchedFile // every database and list, in Config order
	ua        *uaParser
	cache     *geoCache // nil when no database is configured or Config.GeoCacheSize is negative
	logger    *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex // held while files are loaded, so that Close waits for a load
		closed     bool
	}
}

// New loads the files that cfg names and, unless cfg.ReloadInterval is
// negative, starts a goroutine that loads each file again when it changes.
// That goroutine stops when ctx ends or Close is called.
//
// New returns an error and starts nothing when cfg is invalid or a file
// cannot be read or parsed. The error names every such file, each in a
// *LoadError.
// A list with some invalid lines is loaded without them, and each skipped
// line is logged with its file and line number.
func New(ctx context.Context, cfg Config) (*Enricher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	en := &Enricher{
		ua:     newUAParser(cfg.UserAgentCacheSize),
		logger: cfg.Logger.With(keyComponent, "enrich"),
	}
	if cfg.CityDB != "" {
		en.city = newDatabase("city database", cfg.CityDB, cfg.VerifyDatabases)
		en.files = append(en.files, en.city.file)
	}
	if cfg.ASNDB != "" {
		en.asn = newDatabase("ASN database", cfg.ASNDB, cfg.VerifyDatabases)
		en.files = append(en.files, en.asn.file)
	}
	if en.city != nil || en.asn != nil {
		en.cache = newGeoCache(cfg.GeoCacheSize)
	}
	for _, l := range cfg.Lists {
		list := newIPList(l.Name, l.Path)
		en.lists = append(en.lists, list)
		en.files = append(en.files, list.file)
	}

	var errs []error
	for _, f := range en.files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, stats, err := f.refresh(true); err != nil {
			errs = append(errs, err)
		} else {
			en.logBadLines(f, stats)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	ctx, en.cancel = context.WithCancel(ctx)
	if cfg.ReloadInterval > 0 {
		en.wg.Add(1)
		go en.watch(ctx, cfg.ReloadInterval)
	}
	return en, nil
}

// watch checks the files every interval until ctx ends.
func (en *Enricher) watch(ctx context.Context, interval time.Duration) {
	defer en.wg.Done()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			_ = en.Refresh() // Refresh logs each failure; ErrClosed ends nothing here, ctx does
		}
	}
}

// Refresh checks every file now and loads again each one whose size,
// modification time or identity changed, as the reload goroutine does every
// Config.ReloadInterval. A file that fails to load keeps its previous
// contents in use; its *LoadError is logged and returned, joined with the
// others. After Close, Refresh returns ErrClosed.
func (en *Enricher) Refresh() error {
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.mu.closed {
		return ErrClosed
	}

	var errs []error
	for _, f := range en.files {
		loaded, stats, err := f.refresh(false)
		switch {
		case err != nil:
			en.logger.LogAttrs(context.Background(), slog.LevelError, "file not reloaded, previous contents stay in use",
				slog.String(keyKind, f.kind), slog.String(keyName, f.name), slog.String(keyPath, f.path), slog.Any(keyError, err))
			en.logBadLines(f, stats)
			errs = append(errs, err)
		case loaded:
			en.logger.LogAttrs(context.Background(), slog.LevelInfo, "file reloaded",
				slog.String(keyKind, f.kind), slog.String(keyName, f.name), slog.String(keyPath, f.path),
				slog.Int(keyEntries, stats.entries), slog.Int(keyBadLines, stats.badLines))
			en.logBadLines(f, stats)
		}
	}
	return errors.Join(errs...)
}

// logBadLines logs the first skipped lines of a list load and how many more
// there were.
func (en *Enricher) logBadLines(f *watchedFile, stats parseStats) {
	ctx := context.Background()
	for _, le := range stats.firstBad {
		en.logger.LogAttrs(ctx, slog.LevelWarn, "list line skipped",
			slog.String(keyName, f.name), slog.String(keyLocation, le.Path+":"+strconv.Itoa(le.Line)),
			slog.String(keyText, le.Text), slog.String(keyReason, le.Reason))
	}
	if more := stats.badLines - len(stats.firstBad); more > 0 {
		en.logger.LogAttrs(ctx, slog.LevelWarn, "more list lines skipped and not logged",
			slog.String(keyName, f.name), slog.String(keyPath, f.path), slog.Int(keyBadLines, more))
	}
}

// Close stops the reload goroutine, waits for a load in progress, and drops
// the loaded databases and lists, so that later lookups find nothing.
// UserAgent keeps working. Close always returns nil; a second call does
// nothing.
func (en *Enricher) Close() error {
	en.cancel()
	en.wg.Wait()

	en.mu.Lock()
	defer en.mu.Unlock()
	if en.mu.closed {
		return nil
	}
	en.mu.closed = true
	for _, d := range []*database{en.city, en.asn} {
		if d != nil {
			d.close()
		}
	}
	for _, l := range en.lists {
		l.active.Store(nil)
	}
	return nil
}

// Enrich fills the empty Geo fields of e from the databases, looking up
// e.IP after unmapping an IPv4-mapped IPv6 address. It never overwrites a
// value the source gave, and it adds nothing that contradicts one. A city
// and coordinates are added only when the event's country and city are
// empty or equal to the database's, compared case-insensitively. An
// organisation is added only when the event's ASN is empty or equal.
// Coordinates and their accuracy radius are added together, and never when
// the database holds 0/0. An invalid or Reserved address is not looked up. Enrich touches
// no other field; Lists and UserAgent are separate calls.
func (en *Enricher) Enrich(e *audit.Event) {
	if e == nil {
		return
	}
	en.fill(&e.Geo, e.IP)
}

// Geo returns what the databases hold for ip: the result Enrich gives an
// event with an empty Geo. It is the zero Geo for an invalid or Reserved
// address and for an address no database holds.
func (en *Enricher) Geo(ip netip.Addr) audit.Geo {
	var g audit.Geo
	en.fill(&g, ip)
	return g
}

func (en *Enricher) fill(g *audit.Geo, ip netip.Addr) {
	ip = ip.Unmap().WithZone("")
	if _, reserved := Reserved(ip); reserved {
		return
	}
	if !needsLocation(g) && !needsNetwork(g) {
		return
	}

	city, asn := en.results(ip)
	if en.city != nil {
		mergeLocation(g, city)
		mergeNetwork(g, city)
	}
	if en.asn != nil && needsNetwork(g) {
		mergeNetwork(g, asn)
	}
}

// results returns what the city and the ASN database hold for ip, from the
// cache when it has them.
func (en *Enricher) results(ip netip.Addr) (city, asn audit.Geo) {
	cityFile, asnFile := en.city.loaded(), en.asn.loaded()
	if en.cache != nil {
		if city, asn, ok := en.cache.get(ip, cityFile, asnFile); ok {
			return city, asn
		}
	}

	city, cityNet, cityErr := en.lookup(en.city, cityFile, ip)
	asn, asnNet, asnErr := en.lookup(en.asn, asnFile, ip)
	if en.cache != nil && cityErr == nil && asnErr == nil {
		en.cache.put(ip, narrower(cityNet, asnNet), cityFile, asnFile, city, asn)
	}
	return city, asn
}

// lookup returns what the file g of d holds for ip and the network of its
// record, and logs the first lookup error of each loaded file.
func (en *Enricher) lookup(d *database, g *geoReader, ip netip.Addr) (audit.Geo, netip.Prefix, error) {
	if g == nil {
		return audit.Geo{}, netip.Prefix{}, nil
	}
	found, network, err := d.lookup(g, ip)
	if err != nil && g.errorLogged.CompareAndSwap(false, true) {
		en.logger.LogAttrs(context.Background(), slog.LevelError, "lookup failed in a damaged database; later failures of this file are only counted",
			slog.String(keyKind, d.file.kind), slog.String(keyPath, d.file.path), slog.String(keyIP, ip.String()), slog.Any(keyError, err))
	}
	return found, network, err
}

func needsLocation(g *audit.Geo) bool {
	return g.Country == "" || g.City == "" || !g.HasCoordinates()
}

func needsNetwork(g *audit.Geo) bool {
	return g.ASN == 0 || g.Org == ""
}

// mergeLocation fills g's empty location fields from found, unless found
// names another country or city than g does.
func mergeLocation(g *audit.Geo, found audit.Geo) {
	if g.Country != "" && !strings.EqualFold(g.Country, found.Country) {
		return
	}
	if g.Country == "" {
		g.Country = found.Country
	}
	if g.City != "" && !strings.EqualFold(g.City, found.City) {
		return
	}
	if g.City == "" {
		g.City = found.City
	}
	if !g.HasCoordinates() && found.HasCoordinates() {
		g.Latitude, g.Longitude, g.AccuracyKM = found.Latitude, found.Longitude, found.AccuracyKM
	}
}

// mergeNetwork fills g's empty ASN and organisation from found, unless found
// names another ASN than g does.
func mergeNetwork(g *audit.Geo, found audit.Geo) {
	if g.ASN != 0 && found.ASN != 0 && g.ASN != found.ASN {
		return
	}
	if g.ASN == 0 {
		g.ASN = found.ASN
	}
	if g.Org == "" {
		g.Org = found.Org
	}
}

// Lists returns the names of the lists that contain ip, in Config order, or
// nil when none does or ip is invalid. An IPv4-mapped IPv6 address is
// unmapped first. Unlike Enrich, Lists looks up reserved addresses too,
// since a list may name internal hosts. It allocates only when ip is found.
func (en *Enricher) Lists(ip netip.Addr) []string {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap().WithZone("")

	var names []string
	for _, l := range en.lists {
		if l.contains(ip) {
			names = append(names, l.name)
		}
	}
	return names
}

// UserAgent returns the family and major version of the client that sent
// ua, such as ("Chrome", "131"), ("curl", "8") or ("kubectl", "1"). Common
// API clients and tools come from a built-in table, Kubernetes clients from
// the client-go form "name/v1.2.3 (os/arch) kubernetes/commit", browsers
// from github.com/medama-io/go-useragent, and any other client from its first
// product token other than Mozilla. major is "" when ua gives no version.
// family is "" for an empty ua and FamilyOther for one that names no product.
func (en *Enricher) UserAgent(ua string) (family, major string) {
	return en.ua.parse(ua)
}

// Sources returns the state of every configured file, databases first and
// then the lists, in Config order.
func (en *Enricher) Sources() []SourceStatus {
	out := make([]SourceStatus, 0, len(en.files))
	for _, f := range en.files {
		s := f.status()
		switch {
		case en.city != nil && f == en.city.file:
			s.LookupErrors = en.city.lookupErrors.Load()
		case en.asn != nil && f == en.asn.file:
			s.LookupErrors = en.asn.lookupErrors.Load()
		}
		out = append(out, s)
	}
	return out
}
