package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/internal/yamlcheck"
	"github.com/tokentrail/tokentrail/report"
	"github.com/tokentrail/tokentrail/store"
)

// maxTokenFileBytes bounds what --token-file reads: a JWT is a few KiB.
const maxTokenFileBytes = 1 << 20

type investigateFlags struct {
	fingerprint string
	tokenFile   string
	json        bool
	at          string
	rules       string
	enrich      string
}

func newInvestigateCommand(g *globalFlags) *cobra.Command {
	var f investigateFlags
	cmd := &cobra.Command{
		Use:   "investigate (JTI | --fingerprint HASH | --token-file FILE)",
		Short: "Report where one token came from and who used it when",
		Long: `Investigate prints one token's report: its creation context, usage
pattern, anomalies, revocations, rejections, lineage (the refresh token it
was minted from and the tokens minted from it) and its status.

The anomalies are those the built-in detection rules find in the token's
own events, at their default thresholds or those of --rules.

Name the token by its jti, by the SHA-256 fingerprint of the compact token,
or by the token itself read from a file (- reads standard input). A token
read this way is fingerprinted in memory and never stored or printed.

--json prints the report as one JSON object; its fields are documented in
docs/report-json.md and stay stable.`,
		Example: `  tokentrail investigate 5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55
  tokentrail investigate --fingerprint 3b1f...e9 --json
  pbpaste | tokentrail investigate --token-file -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := tokenRef(cmd.InOrStdin(), f, args)
			if err != nil {
				return err
			}
			now := time.Now()
			if f.at != "" {
				if now, err = parseReportTime("--at", f.at); err != nil {
					return err
				}
			}

			// Investigating must not create an empty store where the user
			// mistyped the path.
			if err := requireStore(g.db); err != nil {
				return err
			}
			db, err := openStoreReadOnly(cmd.Context(), g.db)
			if err != nil {
				return err
			}
			defer db.Close()

			detection, enricher, settings, err := detectionConfig(cmd.Context(), db, f.rules, f.enrich, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer enricher.Close()

			var failures []detect.CustomRuleFailure
			detector := withStoredAnomalies(cmd.Context(), db, enrichedDetector(cmd.Context(), detection, enricher, db, &failures))
			tokenReport, err := forensics.InvestigateToken(cmd.Context(), db, ref, forensics.Options{Now: now, Detect: detector})
			if errors.Is(err, forensics.ErrTokenNotFound) {
				return fmt.Errorf("no event in %s names %s: %s", g.db, ref, notFoundAdvice(ref))
			}
			if err != nil {
				return err
			}
			// On standard error, so that --json output stays one object.
			writeCustomRuleFailures(cmd.ErrOrStderr(), settings.RulesFile, failures)
			if f.json {
				return report.WriteJSON(cmd.OutOrStdout(), tokenReport)
			}
			return writeReport(cmd.OutOrStdout(), tokenReport)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.fingerprint, "fingerprint", "", "SHA-256 of the compact token, 64 hex digits")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the raw token (- for standard input); it is fingerprinted, never stored")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON (see docs/report-json.md)")
	fl.StringVar(&f.at, "at", "", "report time for the status, RFC 3339 or as reports print it (2026-11-20 09:30:00Z) (default: now)")
	fl.StringVar(&f.rules, "rules", "", "YAML file of detection thresholds (default: the one the store's last import or detect used, else the built-in defaults; none for the defaults; see docs/detection.md)")
	fl.StringVar(&f.enrich, "enrich", "", "YAML file naming GeoIP/ASN .mmdb files and threat-intel lists for detection (default: the one the store's last import or detect used; none for no files; see docs/detection.md)")
	return cmd
}

// loadDetectConfig reads the detection thresholds of the rules of s, or
// returns the defaults when s names no rules file.
func loadDetectConfig(s detectionSettings) (detect.Config, error) {
	if s.RulesFile == "" {
		return detect.Config{}, nil
	}
	path := s.RulesFile
	cfg, err := detect.ParseConfig(s.Rules)
	if err == nil {
		// New checks the values, so that a bad one is reported now and
		// names the file, not when the first token is checked.
		_, err = detect.New(cfg)
	}
	if err != nil {
		return detect.Config{}, configFileError("--rules", path, err)
	}
	return cfg, nil
}

// configFileError describes a fault of the YAML file of flag as "invalid
// FLAG: FILE line N: FIELD: what is wrong", when the fault has a line.
func configFileError(flag, path string, err error) error {
	var yamlErr *yamlcheck.Error
	var cfgErr *detect.ConfigError
	switch {
	case errors.As(err, &yamlErr) && yamlErr.Line > 0:
		return fmt.Errorf("invalid %s: %s %s", flag, path, yamlErr.Error())
	case errors.As(err, &cfgErr) && cfgErr.Line > 0:
		return fmt.Errorf("invalid %s: %s line %d: %s is %s but %s", flag, path, cfgErr.Line, cfgErr.Field, cfgErr.Value, cfgErr.Reason)
	}
	return fmt.Errorf("invalid %s %s: %w", flag, path, err)
}

// detectionConfig resolves the run's --rules and --enrich (see
// resolveDetection), loads the thresholds and opens the enricher, which
// gives the rules user-agent families and address lists. The caller closes
// the enricher.
func detectionConfig(ctx context.Context, db store.SettingStore, rulesFlag, enrichFlag string, stderr io.Writer) (detect.Config, *enrich.Enricher, detectionSettings, error) {
	settings, err := resolveDetection(ctx, db, rulesFlag, enrichFlag, stderr)
	if err != nil {
		return detect.Config{}, nil, settings, err
	}
	cfg, err := loadDetectConfig(settings)
	if err != nil {
		return detect.Config{}, nil, settings, err
	}
	en, err := openEnricher(ctx, settings.EnrichFile, stderr)
	if err != nil {
		return detect.Config{}, nil, settings, err
	}
	cfg.UserAgents, cfg.IPLists = en, en
	return cfg, en, settings, nil
}

// openEnricher loads the databases and lists that path names, resolving
// their relative paths against the folder of path. Without a path, the
// enricher only reads user-agent families. Warnings, such as list lines
// skipped, go to stderr as one line each.
func openEnricher(ctx context.Context, path string, stderr io.Writer) (*enrich.Enricher, error) {
	var cfg enrich.Config
	if path != "" {
		var err error
		if cfg, err = enrich.ReadConfigFile(path); err != nil {
			return nil, configFileError("--enrich", path, err)
		}
	}
	cfg.Logger = slog.New(newMessageHandler(stderr))
	en, err := enrich.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--enrich %s: %w", path, err)
	}
	return en, nil
}

// enrichedDetector runs the rules of cfg over one token's trail after
// filling the locations and networks that the sources left empty. Each run
// starts with every revocation that db stored, as an import does, so that
// a use after a revocation the trail does not contain, such as one of the
// token's subject or refresh family, raises revoked_token_use. The report
// keeps the events as they were recorded. The custom rules that failed to
// evaluate on some events are added to *failures, across the calls of the
// returned function, unless failures is nil.
func enrichedDetector(ctx context.Context, cfg detect.Config, en *enrich.Enricher, db detect.RevocationReader, failures *[]detect.CustomRuleFailure) func([]audit.Event) ([]audit.Anomaly, error) {
	return func(events []audit.Event) ([]audit.Anomaly, error) {
		// NOTE: each call reads every stored revocation, so a report's
		// cost grows with the revocations the store holds.
		engine, _, err := detect.NewWithStoredRevocations(ctx, cfg, db)
		if err != nil {
			return nil, err
		}
		enriched := slices.Clone(events)
		for i := range enriched {
			en.Enrich(&enriched[i])
		}
		found := engine.Run(enriched)
		if failures != nil {
			*failures = mergeFailures(*failures, engine.CustomRuleFailures())
		}
		return found, nil
	}
}

// mergeFailures adds the failures of one run to those of earlier runs,
// counting each rule once with the first error seen.
func mergeFailures(all, run []detect.CustomRuleFailure) []detect.CustomRuleFailure {
	for _, f := range run {
		i := slices.IndexFunc(all, func(a detect.CustomRuleFailure) bool { return a.Rule == f.Rule })
		if i < 0 {
			all = append(all, f)
			continue
		}
		all[i].Events += f.Events
	}
	return all
}

// withStoredAnomalies adds to what detect finds in a trail the anomalies
// that imports stored for the trail's tokens, such as those of the rules
// that look across tokens, each once, oldest first.
func withStoredAnomalies(ctx context.Context, db store.AnomalyStore, detect func([]audit.Event) ([]audit.Anomaly, error)) func([]audit.Event) ([]audit.Anomaly, error) {
	return func(events []audit.Event) ([]audit.Anomaly, error) {
		found, err := detect(events)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, a := range found {
			seen[a.ID] = true
		}
		var tokens []string
		for _, e := range events {
			if e.TokenID != "" && !slices.Contains(tokens, e.TokenID) {
				tokens = append(tokens, e.TokenID)
			}
		}
		for _, id := range tokens {
			stored, err := db.Anomalies(ctx, store.AnomalyQuery{TokenID: id})
			if err != nil {
				return nil, err
			}
			for _, a := range stored {
				if !seen[a.ID] {
					seen[a.ID] = true
					found = append(found, a)
				}
			}
		}
		slices.SortStableFunc(found, func(a, b audit.Anomaly) int { return a.Time.Compare(b.Time) })
		return found, nil
	}
}

// tokenRef turns the command line into the reference to look up, checking
// that exactly one way of naming the token was used.
// notFoundAdvice returns what to do about a token that no stored event names.
// A jti pasted with its key from a log line, such as JTI=abc or
// "credential-id": "abc", is the likeliest mistake after a missing import.
func notFoundAdvice(ref forensics.TokenRef) string {
	const importFirst = "import the logs that saw it first (tokentrail import FILE)"
	key, value, ok := strings.Cut(ref.TokenID, "=")
	if !ok {
		key, value, ok = strings.Cut(ref.TokenID, ":")
	}
	value = strings.Trim(strings.TrimSpace(value), `"',`)
	if !ok || value == "" || strings.ContainsAny(key, " ") {
		return importFirst
	}
	return fmt.Sprintf("if %s is a key pasted with the value, give the value alone (%s); otherwise %s",
		strconv.Quote(audit.RedactTokens(key)), strconv.Quote(audit.RedactTokens(value)), importFirst)
}

func tokenRef(stdin io.Reader, f investigateFlags, args []string) (forensics.TokenRef, error) {
	given := 0
	for _, set := range []bool{len(args) == 1, f.fingerprint != "", f.tokenFile != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return forensics.TokenRef{}, errors.New("name the token one way: a JTI argument, --fingerprint HASH or --token-file FILE")
	}

	switch {
	case len(args) == 1:
		jti := strings.TrimSpace(args[0])
		if audit.ContainsToken(jti) || strings.Count(jti, ".") >= 2 && len(jti) > 40 {
			return forensics.TokenRef{}, errors.New("the argument looks like a raw JWT; do not put tokens on the command line " +
				"(they end up in shell history): pass it with --token-file FILE or --token-file - on standard input")
		}
		return forensics.TokenRef{TokenID: jti}, nil
	case f.fingerprint != "":
		fp := strings.ToLower(strings.TrimSpace(f.fingerprint))
		fp = strings.TrimPrefix(fp, "sha256:") // the form the recorder's logs print
		if audit.ContainsToken(f.fingerprint) || strings.Count(f.fingerprint, ".") >= 2 {
			return forensics.TokenRef{}, errors.New("--fingerprint looks like a raw JWT; pass the token with --token-file FILE or --token-file - on standard input, and it is fingerprinted for you")
		}
		if !audit.IsFingerprint(fp) {
			return forensics.TokenRef{}, fmt.Errorf("invalid --fingerprint %q: want the 64 hex digits of a SHA-256", shortenArg(f.fingerprint))
		}
		return forensics.TokenRef{Fingerprint: fp}, nil
	default:
		raw, err := readTokenFile(stdin, f.tokenFile)
		if err != nil {
			return forensics.TokenRef{}, err
		}
		ref, err := forensics.RefFromToken(raw)
		if err != nil && ref.Fingerprint == "" {
			return ref, fmt.Errorf("read token from %s: %w", f.tokenFile, err)
		}
		// An opaque token still has a fingerprint to look up.
		return ref, nil
	}
}

func readTokenFile(stdin io.Reader, path string) (string, error) {
	r := stdin
	name := "standard input"
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("open --token-file: %w", err)
		}
		defer file.Close()
		r = file
		name = path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read token from %s: %w", name, err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("%s is larger than 1 MiB, too large for a token: pass a file that contains only the token", name)
	}
	raw := strings.TrimSpace(string(data))
	if raw == "" {
		return "", fmt.Errorf("%s is empty: want the compact token (header.payload.signature)", name)
	}
	if strings.ContainsAny(raw, " \n\t") && !strings.HasPrefix(strings.ToLower(raw), "bearer ") {
		return "", fmt.Errorf("%s contains more than one token or line: pass a file that contains exactly one compact token", name)
	}
	return raw, nil
}

// shortenArg cuts a command-line value for an error message, so that a long
// paste (possibly a secret) is not echoed whole.
func shortenArg(s string) string {
	if len(s) > 80 {
		return s[:40] + "..."
	}
	return s
}
