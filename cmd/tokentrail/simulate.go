package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/simulate"
)

type simulateFlags struct {
	seed     uint64
	subjects int
	days     int
	events   int
	attacks  int
	out      string
	score    bool
	json     bool
}

func newSimulateCommand() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate [flags]",
		Short: "Generate labelled traffic with injected attacks, and score detection on it",
		Long: `Simulate generates the token events of a made-up company, deterministic
from --seed: office workers behind NAT, mobile users whose carrier moves
them between addresses and cities, VPN users, long sessions with rotating
refresh tokens, gateways with clocks up to 30 s off, service accounts at
high but legal rates, guests with placeholder subjects, and logouts. Into
that traffic it injects --attacks attacks for each detection rule, and
labels each one.

--out DIR writes events.jsonl (JSON lines, imported with map.yaml),
labels.json, threat-list.txt, and rules.yaml and enrich.yaml for the
simulated deployment's trusted networks, recorded issuer and threat list.

--score runs detection in memory over the events and prints, for each rule,
the attacks injected and found and the anomalies that were true, fired on
another rule's attack, or false. It exits with status 1 when an injected
attack was missed (rules the detect package lacks count as missed) or when
false anomalies pass 1 per 100,000 benign events (at least 1 is allowed).
docs/detection.md defines the scoring.`,
		Example: `  tokentrail simulate --score
  tokentrail simulate --out sim/ --subjects 200 --events 100000
  tokentrail import --format jsonl --map-file sim/map.yaml --rules sim/rules.yaml --enrich sim/enrich.yaml sim/events.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSimulate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the simulation; the same flags and seed give the same events")
	fl.IntVar(&f.subjects, "subjects", simulate.DefaultSubjects, "subjects: people, service accounts and guest streams (60 to 1000000)")
	fl.IntVar(&f.days, "days", simulate.DefaultDays, "days of event time from 2025-03-03 (2 to 366; unfamiliar_client attacks need 9)")
	fl.IntVar(&f.events, "events", simulate.DefaultEvents, "approximate number of benign events (1000 or more); people's sessions need about 17 a person-day, and a smaller number gives that floor")
	fl.IntVar(&f.attacks, "attacks", simulate.DefaultAttacksPerRule, "attacks injected for each rule (0 to 1000)")
	fl.StringVar(&f.out, "out", "", "folder to write events.jsonl, labels.json, threat-list.txt, rules.yaml, enrich.yaml and map.yaml into (created if missing)")
	fl.BoolVar(&f.score, "score", false, "run detection over the events and print the score table")
	fl.BoolVar(&f.json, "json", false, "with --score, print the score as JSON")
	return cmd
}

// errTargetsMissed makes simulate exit with status 1 after it printed a
// score that misses the targets.
var errTargetsMissed = errors.New("detection missed the targets")

func runSimulate(ctx context.Context, stdout, stderr io.Writer, f simulateFlags) error {
	cfg, err := simulateConfig(f)
	if err != nil {
		return err
	}

	dir := f.out
	if dir == "" {
		// --score alone still needs the threat list in a file, for enrich.
		tmp, err := os.MkdirTemp("", "tokentrail-simulate-")
		if err != nil {
			return fmt.Errorf("create temporary folder: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create --out folder: %w", err)
	}
	dep := simulate.NewDeployment()
	if err := dep.WriteFiles(dir); err != nil {
		return err
	}

	sinks, err := openSimulationSinks(ctx, f, dep, dir)
	if err != nil {
		return err
	}
	defer sinks.close()

	started := time.Now()
	res, err := simulate.Run(ctx, cfg, sinks.observe)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "simulated %d events (%d benign, %d from %d attacks) in %s\n",
		res.Events, res.BenignEvents(), res.AttackEvents, len(res.Labels), time.Since(started).Round(time.Millisecond))
	for _, reason := range res.NotInjected {
		fmt.Fprintf(stderr, "not injected: %s\n", reason)
	}

	if f.out != "" {
		if err := sinks.finishFiles(res, dir, stderr); err != nil {
			return err
		}
	}
	if f.score {
		return printScore(stdout, f, res, sinks.scorer.Score(res))
	}
	return nil
}

// simulateConfig checks the flags and returns the simulation they ask for.
func simulateConfig(f simulateFlags) (simulate.Config, error) {
	if f.out == "" && !f.score {
		return simulate.Config{}, errors.New("nothing to do: pass --out DIR to write the events and labels, --score to score detection on them, or both")
	}
	if f.json && !f.score {
		return simulate.Config{}, errors.New("--json applies to --score only")
	}
	// simulate.Config takes a zero field for its default, so a zero flag
	// is checked here, where it would otherwise pass as the default.
	for _, flag := range []struct {
		name            string
		value, low, max int
		unit            string
	}{
		{"--subjects", f.subjects, 60, 1_000_000, "subjects"},
		{"--days", f.days, 2, 366, "days"},
		{"--events", f.events, 1000, 1 << 40, "events"},
		{"--attacks", f.attacks, 0, 1000, "attacks for each rule (0 injects none)"},
	} {
		if flag.value < flag.low || flag.value > flag.max {
			return simulate.Config{}, fmt.Errorf("invalid %s %d: want %d to %d %s", flag.name, flag.value, flag.low, flag.max, flag.unit)
		}
	}
	attacks := f.attacks
	if attacks == 0 {
		attacks = simulate.NoAttacks
	}
	cfg := simulate.Config{Seed: f.seed, Subjects: f.subjects, Days: f.days, Events: f.events, AttacksPerRule: attacks}
	if err := cfg.Validate(); err != nil {
		return simulate.Config{}, fmt.Errorf("invalid flags: %w", err)
	}
	return cfg, nil
}

// simulationSinks receive the events of a run: the events file of --out
// and the scorer of --score, each nil when its flag is not given.
type simulationSinks struct {
	file   *os.File
	writer *simulate.EventWriter
	scorer *simulate.Scorer
}

func openSimulationSinks(ctx context.Context, f simulateFlags, dep simulate.Deployment, dir string) (*simulationSinks, error) {
	s := &simulationSinks{}
	if f.out != "" {
		file, err := os.Create(filepath.Join(dir, simulate.EventsFile))
		if err != nil {
			return nil, fmt.Errorf("create events file: %w", err)
		}
		s.file, s.writer = file, simulate.NewEventWriter(file)
	}
	if f.score {
		scorer, err := simulate.NewScorer(ctx, dep, filepath.Join(dir, simulate.ThreatListFile))
		if err != nil {
			s.close()
			return nil, err
		}
		s.scorer = scorer
	}
	return s, nil
}

func (s *simulationSinks) observe(e audit.Event) error {
	if s.writer != nil {
		if err := s.writer.Write(e); err != nil {
			return err
		}
	}
	if s.scorer != nil {
		s.scorer.Observe(e)
	}
	return nil
}

// finishFiles completes the events file, writes the labels and says how to
// import them.
func (s *simulationSinks) finishFiles(res *simulate.Result, dir string, stderr io.Writer) error {
	if err := s.writer.Flush(); err != nil {
		return err
	}
	if err := s.file.Close(); err != nil {
		return fmt.Errorf("write events file: %w", err)
	}
	s.file = nil
	if err := simulate.WriteLabels(filepath.Join(dir, simulate.LabelsFile), res.Labels); err != nil {
		return err
	}

	p := func(name string) string { return filepath.Join(dir, name) }
	fmt.Fprintf(stderr, "wrote %s, %s, %s, %s, %s and %s\nimport them with:\n  tokentrail import --format jsonl --map-file %s --rules %s --enrich %s %s\n",
		p(simulate.EventsFile), p(simulate.LabelsFile), p(simulate.ThreatListFile), p(simulate.RulesFile), p(simulate.EnrichFile), p(simulate.MappingFile),
		p(simulate.MappingFile), p(simulate.RulesFile), p(simulate.EnrichFile), p(simulate.EventsFile))
	return nil
}

// close releases what is still open after an error.
func (s *simulationSinks) close() {
	if s.file != nil {
		_ = s.file.Close() // the run failed already; its error is the one to report
	}
	if s.scorer != nil {
		_ = s.scorer.Close() // Close of an Enricher always returns nil
	}
}

// printScore prints the score as a table, or as JSON with --json, and
// returns errTargetsMissed when it misses the targets.
func printScore(stdout io.Writer, f simulateFlags, res *simulate.Result, sc *simulate.Score) error {
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sc); err != nil {
			return fmt.Errorf("print score: %w", err)
		}
	} else {
		fmt.Fprintf(stdout, "tokentrail simulate --seed %d --subjects %d --days %d --events %d --attacks %d --score\n\n",
			res.Config.Seed, res.Config.Subjects, res.Config.Days, f.events, res.Config.AttacksPerRule)
		if err := sc.WriteTable(stdout, 20); err != nil {
			return fmt.Errorf("print score: %w", err)
		}
	}
	if met, reasons := sc.Met(); !met {
		return fmt.Errorf("%w: %s", errTargetsMissed, strings.Join(reasons, "; "))
	}
	return nil
}
