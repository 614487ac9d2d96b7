package simulate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Result holds the labels and counts of a Run.
type Result struct {
	// Config is the Config of the run, with its defaults applied.
	Config Config

	// Labels describe the injected attacks, in the order they were
	// injected.
	Labels []Label

	// Events counts every event of the run, and AttackEvents the ones the
	// attacks caused; the rest are benign.
	Events       int
	AttackEvents int

	// NotInjected names each planned attack that found no victim, and why.
	NotInjected []string
}

// BenignEvents returns the number of events no attack caused.
func (r *Result) BenignEvents() int { return r.Events - r.AttackEvents }

// rates are the request rates that calibrate sets to reach Config.Events.
type rates struct {
	viewsPerMinute    float64 // page views a minute while a person is active
	partnerPerDay     float64 // events a day of each partner service account
	servicePerDay     float64 // events a day of each internal service account
	guestEventsPerDay float64 // events a day of each guest stream
}

// The shares of the benign events that each kind of subject makes.
const (
	partnerShare = 0.10
	serviceShare = 0.05
	guestShare   = 0.04
	userShare    = 1 - partnerShare - serviceShare - guestShare
)

// generator holds the state of one Run.
type generator struct {
	cfg      Config
	dep      Deployment
	offsets  [gatewayCount]time.Duration
	rotation time.Time // the gateways drop the old signing key at this instant
	end      time.Time // no attack event is placed later
	subjects []*subject
	rates    rates

	firstGuest int // index of the guest stream that passes the airport

	// log holds the tokens of the current day, for the attacks.
	log struct {
		access  []*accessLog
		refresh []*refreshLog
	}

	attacks      []*attack
	labels       []Label
	notInjected  []string
	attackerNext map[netip.Prefix]uint64
	attackEvents int

	// buf holds the events not yet emitted, and emitted counts the others.
	buf      []audit.Event
	emit     func(audit.Event) error
	emitted  int
	lastTime time.Time
	lastID   string
}

// Run generates the events of cfg and passes them to emit in order of time
// and then ID, which is the order detect checks events in. It stops at the
// first error emit returns, or when ctx ends, and returns that error. It
// returns an error naming the field when cfg is invalid.
//
// Run holds about one day of events, and that day's token logs, in memory.
// Generating 5.35 million events of 10,000 subjects over 14 days peaked at
// 1.2 GB of resident memory.
func Run(ctx context.Context, cfg Config, emit func(audit.Event) error) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := newGenerator(cfg, emit)
	g.calibrate()
	g.startSessions()
	g.planAttacks()

	for day := range cfg.Days {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(g.log.access)
		clear(g.log.refresh)
		g.log.access, g.log.refresh = g.log.access[:0], g.log.refresh[:0]
		for _, s := range g.subjects {
			switch s.persona {
			case personaPartner, personaService:
				g.serviceDay(s, day)
			case personaGuest:
				g.guestDay(s, day)
			default:
				g.userDay(s, day)
			}
		}
		g.injectAttacks(day)

		// Every event still to come belongs to a later local day, and so
		// lies after the start of the next UTC day less the largest
		// offset east of UTC and the gateways' skew.
		watermark := cfg.Start.AddDate(0, 0, day+1).Add(-maxEastOffset - 2*time.Minute)
		if err := g.flush(watermark); err != nil {
			return nil, err
		}
	}
	if err := g.flush(time.Time{}); err != nil {
		return nil, err
	}

	return &Result{
		Config:       cfg,
		Labels:       g.labels,
		Events:       g.emitted,
		AttackEvents: g.attackEvents,
		NotInjected:  g.notInjected,
	}, nil
}

func newGenerator(cfg Config, emit func(audit.Event) error) *generator {
	g := &generator{
		cfg:          cfg,
		dep:          NewDeployment(),
		offsets:      gatewayOffsets(cfg.Seed),
		rotation:     cfg.Start.AddDate(0, 0, cfg.Days*3/5).Add(10 * time.Hour),
		end:          cfg.Start.AddDate(0, 0, cfg.Days),
		subjects:     populate(cfg),
		emit:         emit,
		attackerNext: make(map[netip.Prefix]uint64),
		firstGuest:   -1,
	}
	for _, s := range g.subjects {
		if s.persona == personaGuest && g.firstGuest < 0 {
			g.firstGuest = s.index
		}
	}
	return g
}

// maxEastOffset is the largest UTC offset of a region.
var maxEastOffset = func() time.Duration {
	var m time.Duration
	for _, r := range regions {
		m = max(m, r.offset)
	}
	return m
}()

// flush sorts the held events and emits those before watermark, or all of
// them when watermark is zero.
func (g *generator) flush(watermark time.Time) error {
	slices.SortFunc(g.buf, func(a, b audit.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	n := len(g.buf)
	if !watermark.IsZero() {
		n, _ = slices.BinarySearchFunc(g.buf, watermark, func(e audit.Event, t time.Time) int { return e.Time.Compare(t) })
	}
	for i := range n {
		e := &g.buf[i]
		if e.Time.Before(g.lastTime) || (e.Time.Equal(g.lastTime) && e.ID <= g.lastID) {
			// The watermark promised that no later day would reach back
			// this far: the generator is wrong, not its Config.
			return fmt.Errorf("simulate: internal error: event %s at %s comes after %s at %s was emitted",
				e.ID, e.Time.Format(time.RFC3339Nano), g.lastID, g.lastTime.Format(time.RFC3339Nano))
		}
		if err := g.emit(*e); err != nil {
			return err
		}
		g.lastTime, g.lastID = e.Time, e.ID
		g.emitted++
	}
	rest := copy(g.buf, g.buf[n:])
	clear(g.buf[rest:])
	g.buf = g.buf[:rest]
	return nil
}

// addBenign adds an event of the subject's own traffic.
func (g *generator) addBenign(s *subject, e audit.Event) {
	g.buf = append(g.buf, e)
	s.events++
	if s.firstSeen < 0 {
		s.firstSeen = int(e.Time.Sub(g.cfg.Start.Add(-maxEastOffset)) / (24 * time.Hour))
	}
}

// calibrate sets the request rates so that the run makes about
// Config.Events benign events. People's sign-ins, refreshes and logouts
// hardly depend on the rate, but their uses grow with it. So calibrate
// runs every fourth person's days once at a probe rate, without emitting,
// and solves for the rate that fills the people's share. Service accounts
// and guests get their shares directly.
func (g *generator) calibrate() {
	const probeRate, sampleEvery = 0.2, 4
	probe := newGenerator(g.cfg, nil)
	probe.rates.viewsPerMinute = probeRate
	probe.startSessions()
	var uses, other float64
	for day := range g.cfg.Days {
		for _, s := range probe.subjects {
			if s.persona.isUser() && s.index%sampleEvery == 0 {
				probe.userDay(s, day)
			}
		}
		for _, e := range probe.buf {
			if e.Kind == audit.KindUsed {
				uses++
			} else {
				other++
			}
		}
		clear(probe.buf)
		clear(probe.log.access)
		clear(probe.log.refresh)
		probe.buf = probe.buf[:0]
		probe.log.access, probe.log.refresh = probe.log.access[:0], probe.log.refresh[:0]
	}

	var users, sampled, partners, services, guests int
	for _, s := range g.subjects {
		switch s.persona {
		case personaPartner:
			partners++
		case personaService:
			services++
		case personaGuest:
			guests++
		default:
			users++
			if s.index%sampleEvery == 0 {
				sampled++
			}
		}
	}
	scale := float64(users) / float64(max(sampled, 1))
	total := float64(g.cfg.Events)
	g.rates.viewsPerMinute = probeRate
	if uses > 0 {
		g.rates.viewsPerMinute = max(probeRate*(userShare*total/scale-other)/uses, 0.01)
	}

	days := float64(g.cfg.Days)
	g.rates.partnerPerDay = partnerShare * total / days / float64(max(partners, 1))
	g.rates.servicePerDay = serviceShare * total / days / float64(max(services, 1))
	g.rates.guestEventsPerDay = guestShare * total / days / float64(max(guests, 1))
	// The first account of each kind is busy, so that every run has
	// service accounts near high_frequency's threshold.
	busy := map[persona]bool{personaPartner: true, personaService: true}
	for _, s := range g.subjects {
		switch s.persona {
		case personaPartner:
			setUpService(s, g.rates.partnerPerDay, busy[s.persona])
		case personaService:
			setUpService(s, g.rates.servicePerDay, busy[s.persona])
		}
		busy[s.persona] = false
	}
}

// startSessions gives phones the sessions they held before the run: their
// refresh tokens were issued days earlier, before anything was recorded,
// so no issued event of them exists.
func (g *generator) startSessions() {
	recordingStart := g.cfg.Start.Add(-maxEastOffset - time.Hour)
	for _, s := range g.subjects {
		for _, d := range s.devices {
			if d.kind != devicePhone {
				continue
			}
			r := s.stream
			d.sid = r.uuid()
			d.signedIn = recordingStart.Add(-r.between(24*time.Hour, 10*24*time.Hour))
			iat := recordingStart.Add(-r.between(time.Hour, 5*24*time.Hour))
			if iat.Before(d.signedIn) {
				iat = d.signedIn
			}
			d.rt = mint(r, iat, s.name, d, true, "")
		}
	}
}
