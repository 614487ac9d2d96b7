package forensics

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// IncidentStore reads the events and anomalies that AnalyzeIncident needs.
// *sqlite.Store implements it.
type IncidentStore interface {
	EventQuerier
	Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error)
}

// DefaultIncidentWindow is the half-width of the window of AnalyzeIncident
// when IncidentQuery.Window is zero.
const DefaultIncidentWindow = 24 * time.Hour

// IncidentQuery names the incident: a subject and a moment. The window
// runs from At-Window (inclusive) to At+Window (exclusive).
type IncidentQuery struct {
	Subject string
	At      time.Time
	Window  time.Duration // zero means DefaultIncidentWindow
}

// IncidentOptions tune AnalyzeIncident. The zero IncidentOptions work.
type IncidentOptions struct {
	Now time.Time // report time; zero means time.Now()

	// MaxTimeline bounds the timeline and each query of events or
	// anomalies, so that a busy network cannot exhaust memory; 0 means
	// 5,000.
	MaxTimeline int

	MaxTokens   int            // tokens whose own events and lineage are loaded; 0 means 500
	MaxNetworks int            // suspicious networks followed, most implicated first; 0 means 20
	MinSeverity audit.Severity // anomalies below it implicate nothing; zero means every severity

	// Trusted lists networks that are never suspicious, such as the
	// egress addresses of an office or a proxy. Private, loopback,
	// link-local and unspecified addresses never are either.
	Trusted []netip.Prefix

	// Actor and DB fill the --actor and --db flags of the plan's commands.
	// An empty Actor gives "incident-response", and an empty DB leaves
	// --db out so that the CLI's default store is used.
	Actor string
	DB    string

	// Detect, when set, runs detection over the subject's events in the
	// window, oldest first. Its findings join the stored anomalies.
	// detect.Run with a Config is the usual choice.
	Detect func(events []audit.Event) ([]audit.Anomaly, error)
}

// AnalyzeIncident reconstructs an incident around one subject: the
// timeline of the subject's tokens and of the suspicious networks, what
// those networks reached, the patterns across the subject's tokens, and a
// ranked remediation plan.
//
// A suspicious network is the /24 (IPv4) or /64 (IPv6) of an address that
// an anomaly of the subject's tokens names, either as its client or in an
// event of its evidence. A network from which the subject signed in within
// the window (a token issued without parent token) counts as the subject's
// own and is left out, with a note that names it. So the network of an
// attacker who signed in with stolen credentials is only in that note. Trusted networks, and private, loopback and link-local
// addresses, are left out too.
//
// It returns an error wrapping ErrInvalidQuery for an empty Subject, a
// zero At or a negative Window, and an error wrapping ErrSubjectNotFound
// when no event of the subject lies in the window.
func AnalyzeIncident(ctx context.Context, db IncidentStore, q IncidentQuery, opts IncidentOptions) (*IncidentReport, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	if q.Window == 0 {
		q.Window = DefaultIncidentWindow
	}

	a := &analysis{
		db: db, opts: opts, subject: q.Subject,
		since: q.At.Add(-q.Window), until: q.At.Add(q.Window),
		events: map[string]*loaded{}, anomalies: map[string]audit.Anomaly{},
		roots: map[string]string{}, revocations: map[string][]audit.Event{},
	}
	a.report = &IncidentReport{
		Subject: q.Subject, At: q.At.UTC(), Since: a.since.UTC(), Until: a.until.UTC(),
		GeneratedAt: opts.Now.UTC(), Notes: []string{},
	}

	if err := a.loadSubject(ctx); err != nil {
		return nil, err
	}
	if len(a.events) == 0 {
		return nil, fmt.Errorf("%w: %q between %s and %s", ErrSubjectNotFound, q.Subject,
			a.since.UTC().Format(TimeLayout), a.until.UTC().Format(TimeLayout))
	}
	if err := a.loadAnomalies(ctx); err != nil {
		return nil, err
	}
	a.findNetworks()
	if err := a.loadNetworks(ctx); err != nil {
		return nil, err
	}

	r := a.report
	r.Timeline, r.Truncated = a.timeline()
	r.Suspicious = a.suspiciousSet()
	impact, err := a.impact(ctx)
	if err != nil {
		return nil, err
	}
	r.Impact = impact
	r.Anomalies = a.sortedAnomalies()
	r.Patterns = a.patterns()
	if r.Plan, err = a.plan(ctx); err != nil {
		return nil, err
	}
	return r, nil
}
