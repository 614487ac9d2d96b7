package simulate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
)

// TargetFalsePer100k is the target rate of false anomalies: at most one
// per 100,000 benign events.
const TargetFalsePer100k = 1.0

// tokenMatchWindow is how long after an attack's last event an anomaly
// that names the attack's token, but none of its events, is still put
// down to the attack.
const tokenMatchWindow = 15 * time.Minute

// Scorer runs detection over the events of a Run and, at the end, matches
// what it found with the labels. Its detect.Engine has the default Config
// plus the Deployment's trusted networks and recorded issuers, the
// user-agent families of an enrich.Enricher without databases, and the
// threat list loaded through that Enricher. It is not safe for concurrent
// use.
type Scorer struct {
	engine    *detect.Engine
	enricher  *enrich.Enricher
	anomalies []audit.Anomaly
	events    int
}

// NewScorer returns a Scorer for the deployment, whose threat list it reads
// from threatListPath. Close releases it.
func NewScorer(ctx context.Context, dep Deployment, threatListPath string) (*Scorer, error) {
	en, err := enrich.New(ctx, enrich.Config{
		Lists:          []enrich.ListConfig{{Name: "simulated-threats", Path: threatListPath}},
		ReloadInterval: -1,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("simulate: load threat list: %w", err)
	}
	cfg := dep.DetectConfig()
	cfg.UserAgents, cfg.IPLists = en, en
	engine, err := detect.New(cfg)
	if err != nil {
		en.Close()
		return nil, fmt.Errorf("simulate: start detection: %w", err)
	}
	return &Scorer{engine: engine, enricher: en}, nil
}

// Observe checks one event. Events must come in time order, as Run emits
// them.
func (s *Scorer) Observe(e audit.Event) {
	s.events++
	s.anomalies = append(s.anomalies, s.engine.Observe(e)...)
}

// Close releases the threat list.
func (s *Scorer) Close() error { return s.enricher.Close() }

// Score checks the events the engine still holds and matches every anomaly
// with the labels, as the package documentation defines.
func (s *Scorer) Score(res *Result) *Score {
	s.anomalies = append(s.anomalies, s.engine.Flush()...)
	return score(s.anomalies, res.Labels, s.events, res.AttackEvents)
}

// Score is how well detection found the injected attacks and how often it
// raised anomalies on benign traffic.
type Score struct {
	Rules []RuleScore `json:"rules"`

	Events       int `json:"events"`
	AttackEvents int `json:"attack_events"`
	BenignEvents int `json:"benign_events"`

	Anomalies      int     `json:"anomalies"`
	FalseAnomalies int     `json:"false_anomalies"`
	FalsePer100k   float64 `json:"false_per_100k_benign_events"`

	// AllowedFalse is the most false anomalies the target allows for this
	// many benign events: one per 100,000, and at least one.
	AllowedFalse int `json:"allowed_false_anomalies"`

	// Missed lists the attacks that no anomaly of their rule found.
	Missed []Label `json:"missed"`

	// False lists the false anomalies.
	False []audit.Anomaly `json:"false"`
}

// RuleScore is the score of one rule.
type RuleScore struct {
	Rule string `json:"rule"`

	// Detector is false when the detect package has no such rule yet.
	Detector bool `json:"detector"`

	Injected int `json:"injected"` // attacks built for the rule
	Found    int `json:"found"`    // of them, attacks an anomaly of the rule found

	Anomalies int `json:"anomalies"` // anomalies the rule raised
	True      int `json:"true"`      // of them, put down to an attack of the rule
	Also      int `json:"also"`      // put down only to attacks of other rules
	False     int `json:"false"`     // put down to no attack
}

// Recall returns Found over Injected, or -1 when nothing was injected.
func (r RuleScore) Recall() float64 {
	if r.Injected == 0 {
		return -1
	}
	return float64(r.Found) / float64(r.Injected)
}

// Precision returns the share of the rule's anomalies that are true or
// also fired on an attack, or -1 when the rule raised none.
func (r RuleScore) Precision() float64 {
	if r.Anomalies == 0 {
		return -1
	}
	return float64(r.Anomalies-r.False) / float64(r.Anomalies)
}

// Met reports whether the score meets the targets: every injected attack
// found, by any rule including those without a detector yet, and at most
// AllowedFalse false anomalies. The reasons say what missed.
func (s *Score) Met() (bool, []string) {
	var reasons []string
	for _, r := range s.Rules {
		if r.Found < r.Injected {
			what := ""
			if !r.Detector {
				what = " (the detect package has no such rule)"
			}
			reasons = append(reasons, fmt.Sprintf("%s found %d of %d injected attacks%s", r.Rule, r.Found, r.Injected, what))
		}
	}
	if s.FalseAnomalies > s.AllowedFalse {
		reasons = append(reasons, fmt.Sprintf("%d false anomalies in %d benign events, more than the %d allowed", s.FalseAnomalies, s.BenignEvents, s.AllowedFalse))
	}
	return len(reasons) == 0, reasons
}

// score matches anomalies with labels.
func score(anomalies []audit.Anomaly, labels []Label, events, attackEvents int) *Score {
	byEvent := make(map[string]int)
	byToken := make(map[string][]int)
	for i, l := range labels {
		for _, id := range l.EventIDs {
			byEvent[id] = i
		}
		if l.Token != "" {
			byToken[l.Token] = append(byToken[l.Token], i)
		}
	}

	rows := make(map[string]*RuleScore)
	row := func(rule string) *RuleScore {
		if r, ok := rows[rule]; ok {
			return r
		}
		r := &RuleScore{Rule: rule, Detector: detectorRules[rule]}
		rows[rule] = r
		return r
	}
	for _, rule := range attackRules {
		row(rule)
	}
	for _, l := range labels {
		row(l.Rule).Injected++
	}

	found := make([]bool, len(labels))
	sc := &Score{Events: events, AttackEvents: attackEvents, BenignEvents: events - attackEvents, Anomalies: len(anomalies)}
	for _, a := range anomalies {
		r := row(a.Rule)
		r.Anomalies++
		matched := attributed(a, labels, byEvent, byToken)
		own := false
		for _, i := range matched {
			if labels[i].Rule == a.Rule {
				own = true
				found[i] = true
			}
		}
		switch {
		case own:
			r.True++
		case len(matched) > 0:
			r.Also++
		default:
			r.False++
			sc.FalseAnomalies++
			sc.False = append(sc.False, a)
		}
	}
	for i, l := range labels {
		if found[i] {
			row(l.Rule).Found++
		} else {
			sc.Missed = append(sc.Missed, l)
		}
	}

	for _, rule := range attackRules {
		sc.Rules = append(sc.Rules, *rows[rule])
		delete(rows, rule)
	}
	var extra []string
	for rule := range rows {
		extra = append(extra, rule)
	}
	slices.Sort(extra)
	for _, rule := range extra {
		sc.Rules = append(sc.Rules, *rows[rule])
	}

	if sc.BenignEvents > 0 {
		sc.FalsePer100k = float64(sc.FalseAnomalies) * 100_000 / float64(sc.BenignEvents)
	}
	sc.AllowedFalse = AllowedFalse(sc.BenignEvents)
	return sc
}

// AllowedFalse returns the most false anomalies the target allows in the
// given number of benign events: one per 100,000, rounded down, and at
// least one, so that a small run is not held to zero.
func AllowedFalse(benign int) int {
	return max(1, int(float64(benign)*TargetFalsePer100k/100_000))
}

// attributed returns the labels an anomaly is put down to: those with an
// event among the anomaly's proof, or else those whose token the anomaly
// names, when it lies between the attack's first event and
// tokenMatchWindow after its last.
func attributed(a audit.Anomaly, labels []Label, byEvent map[string]int, byToken map[string][]int) []int {
	var out []int
	for _, id := range a.EventIDs {
		if i, ok := byEvent[id]; ok && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, i := range byToken[a.TokenID] {
		l := labels[i]
		if !a.Time.Before(l.Start) && !a.Time.After(l.End.Add(tokenMatchWindow)) {
			out = append(out, i)
		}
	}
	return out
}

// detectorRules holds the names of the rules that detect.Config has
// settings for, which are the rules the detect package implements.
var detectorRules = func() map[string]bool {
	out := make(map[string]bool)
	t := reflect.TypeFor[detect.Rules]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

// WriteTable writes the score as a Markdown table, the totals, and the
// missed attacks and false anomalies, at most limit of each.
func (s *Score) WriteTable(w io.Writer, limit int) error {
	var b strings.Builder
	b.WriteString("| rule | injected | found | recall | anomalies | true | also | false | precision |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range s.Rules {
		name := "`" + r.Rule + "`"
		if !r.Detector {
			name += " (no detector)"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %d | %d | %d | %s |\n",
			name, r.Injected, r.Found, ratio(r.Recall()), r.Anomalies, r.True, r.Also, r.False, ratio(r.Precision()))
	}
	fmt.Fprintf(&b, "\nevents: %d (%d benign, %d from attacks)\n", s.Events, s.BenignEvents, s.AttackEvents)
	fmt.Fprintf(&b, "anomalies: %d, of which false: %d, %.2f per 100,000 benign events (target: at most %g, so %d here)\n",
		s.Anomalies, s.FalseAnomalies, s.FalsePer100k, TargetFalsePer100k, s.AllowedFalse)

	if len(s.Missed) > 0 {
		fmt.Fprintf(&b, "\nmissed attacks (%d):\n", len(s.Missed))
		for _, l := range s.Missed[:min(limit, len(s.Missed))] {
			fmt.Fprintf(&b, "  %s at %s: %s\n", l.ID, l.Start.Format(time.RFC3339), l.Description)
		}
	}
	if len(s.False) > 0 {
		fmt.Fprintf(&b, "\nfalse anomalies (%d):\n", len(s.False))
		for _, a := range s.False[:min(limit, len(s.False))] {
			fmt.Fprintf(&b, "  %s %s token %s subject %q: %s\n", a.Time.Format(time.RFC3339), a.Rule, a.TokenID, a.Subject, a.Summary)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ratio formats a share as a percentage with one decimal, rounded down so
// that 99.96% never reads 100.0%, or "-" when it is negative.
func ratio(x float64) string {
	if x < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", math.Floor(x*1000)/10)
}
