package simulate

import (
	"slices"
	"strconv"
	"time"
)

// place is the location of a device during a period of activity.
type place uint8

const (
	placeHome    place = iota // the subject's broadband, at home
	placeOffice               // the office NAT
	placeCarrier              // the mobile carrier
	placeVPN                  // the VPN provider's egress
)

// period is a stretch of time in which a device makes requests from one
// place. Periods of one device are at least minGap apart, so that a device
// never returns to a place within the concurrent_use window.
type period struct {
	device     *device
	start, end time.Time
	place      place
}

// minGap is the least idle time between two periods of one device.
const minGap = 5 * time.Minute

// localMidnight returns the start of the subject's local day, in UTC.
func (g *generator) localMidnight(s *subject, day int) time.Time {
	return g.cfg.Start.AddDate(0, 0, day).Add(-s.region.offset)
}

// planDay returns the periods of activity of a user subject's devices on
// one local day, device by device and in time order. It draws from its own
// stream, so that the calibration pass plans the same days as the run.
//
// In the first days the plan makes sure that every place a subject uses
// appears. A subject who did not work from home by then is never planned
// at home later. So benign subjects keep to the countries, networks and
// clients seen in their first week.
func (g *generator) planDay(s *subject, day int) []period {
	r := newStream(g.cfg.Seed, "schedule-"+strconv.Itoa(s.index)+"-"+strconv.Itoa(day))
	base := g.localMidnight(s, day)
	weekday := g.cfg.Start.AddDate(0, 0, day).Weekday()
	workday := weekday != time.Saturday && weekday != time.Sunday
	hour := func(h float64) time.Time { return base.Add(time.Duration(h * float64(time.Hour))) }

	var out []period
	atOffice := false
	for _, d := range s.devices {
		if d.kind != deviceLaptop {
			continue
		}
		switch {
		case workday && s.persona == personaOffice:
			where := placeOffice
			if s.worksFromHome && ((!s.seenHome && day >= 1) || r.chance(0.2)) {
				where = placeHome
			}
			atOffice = where == placeOffice
			out = append(out, workPeriods(r, d, hour, where)...)
		case workday && s.persona == personaRemote:
			out = append(out, workPeriods(r, d, hour, placeHome)...)
		case workday && s.persona == personaVPN:
			work := workPeriods(r, d, hour, placeVPN)
			if len(work) > 0 && (!s.seenHome || r.chance(0.25)) {
				// Some mornings start at home before the VPN is switched on.
				end := work[0].start.Add(-minGap - r.between(0, 5*time.Minute))
				home := period{device: d, start: end.Add(-r.between(3*time.Minute, 15*time.Minute)), end: end, place: placeHome}
				work = append([]period{home}, work...)
			}
			out = append(out, work...)
		}
		if s.persona != personaVPN && (s.seenHome || s.persona == personaRemote || hasHome(out, d)) {
			// Evenings and weekends at home, for those whose home is known.
			p := 0.1
			if !workday {
				p = 0.15
			}
			if r.chance(p) {
				start := hour(20 + 2*r.rng.Float64())
				out = append(out, period{device: d, start: start, end: start.Add(r.between(5*time.Minute, 30*time.Minute)), place: placeHome})
			}
		}
	}
	if hasHome(out, nil) {
		s.seenHome = true
	}

	for _, d := range s.devices {
		if d.kind != devicePhone {
			continue
		}
		out = append(out, phoneSessions(r, s, d, day, hour, atOffice)...)
	}
	return separate(out)
}

// separate sorts the periods by device and start, and moves each period
// that starts less than minGap after the device's previous one to start
// minGap after it.
func separate(periods []period) []period {
	slices.SortStableFunc(periods, func(a, b period) int {
		if a.device != b.device {
			return int(a.device.kind) - int(b.device.kind)
		}
		return a.start.Compare(b.start)
	})
	for i := 1; i < len(periods); i++ {
		prev, p := &periods[i-1], &periods[i]
		if p.device != prev.device {
			continue
		}
		if earliest := prev.end.Add(minGap); p.start.Before(earliest) {
			shift := earliest.Sub(p.start)
			p.start, p.end = p.start.Add(shift), p.end.Add(shift)
		}
	}
	return periods
}

func hasHome(periods []period, d *device) bool {
	return slices.ContainsFunc(periods, func(p period) bool { return p.place == placeHome && (d == nil || p.device == d) })
}

// workPeriods returns 3 to 6 periods between arrival (7:30 to 9:30) and
// departure (16:30 to 18:30).
func workPeriods(r *stream, d *device, hour func(float64) time.Time, where place) []period {
	arrive := hour(7.5 + 2*r.rng.Float64())
	leave := hour(16.5 + 2*r.rng.Float64())
	n := r.intBetween(3, 6)
	starts := make([]time.Time, n)
	for i := range starts {
		starts[i] = arrive.Add(time.Duration(r.rng.Int64N(int64(leave.Sub(arrive)))))
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	return layOut(r, d, starts, where, 12*time.Minute, 2*time.Minute, 45*time.Minute)
}

// layOut turns start times into periods of exponential length, moving each
// start to keep minGap after the previous period.
func layOut(r *stream, d *device, starts []time.Time, where place, mean, lo, hi time.Duration) []period {
	var out []period
	for _, start := range starts {
		if n := len(out); n > 0 && start.Before(out[n-1].end.Add(minGap)) {
			start = out[n-1].end.Add(minGap + r.between(0, 2*time.Minute))
		}
		out = append(out, period{device: d, start: start, end: start.Add(r.exp(mean, lo, hi)), place: where})
	}
	return out
}

// phoneSessions returns the app sessions of a phone: 4 to 10 a day for
// people who only use the phone, 1 to 5 for the others, between 7:00 and
// 23:30. At home hours the phone uses the home Wi-Fi when the subject has
// one, at the office it sometimes uses the office Wi-Fi, and otherwise the
// carrier. On the first two days the first session is at home and the
// second on the carrier, so that both are known early.
func phoneSessions(r *stream, s *subject, d *device, day int, hour func(float64) time.Time, atOffice bool) []period {
	n := r.intBetween(1, 5)
	if s.persona == personaMobile {
		n = r.intBetween(4, 10)
	}
	starts := make([]time.Time, n)
	for i := range starts {
		starts[i] = hour(7 + 16.5*r.rng.Float64())
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	out := layOut(r, d, starts, placeCarrier, 3*time.Minute, time.Minute, 12*time.Minute)

	for i := range out {
		h := out[i].start.Sub(hour(0)).Hours()
		switch {
		case day < 2 && i == 0 && s.homeWiFi:
			out[i].place = placeHome
		case day < 2 && i == 1:
			out[i].place = placeCarrier
		case (h < 8.5 || h >= 18.5) && s.homeWiFi && r.chance(0.85):
			out[i].place = placeHome
		case h >= 9 && h < 17 && atOffice && r.chance(0.3):
			out[i].place = placeOffice
		}
	}
	return out
}
