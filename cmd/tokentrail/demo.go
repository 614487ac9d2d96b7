package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/ingest"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonl"
	"github.com/tokentrail/tokentrail/source/keycloak"
)

// demoData is a realistic, self-made data set: one morning of a web portal's
// Keycloak events and its API gateway's access log, in which one user's
// access token is replayed from another network and then revoked.
//
//go:embed demodata
var demoData embed.FS

// demoStory names the token whose investigation the demo prints.
type demoStory struct {
	Token      string `json:"token"`
	AttackerIP string `json:"attacker_ip"`
}

func newDemoCommand() *cobra.Command {
	var asJSON bool
	var keep string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Import a bundled data set and investigate a replayed token",
		Long: `Demo imports a bundled data set (Keycloak events and an API gateway's
access log of one morning) into a temporary store and prints the
investigation of one token: issued to a user, used normally, replayed from
another network by a script, then revoked. It touches no existing store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), keep, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&keep, "keep", "", "write the demo store to this file instead of a temporary one, to explore it afterwards")
	return cmd
}

// loadDemoStory reads the facts of the demo data set's story.
func loadDemoStory() (demoStory, error) {
	var story demoStory
	raw, err := demoData.ReadFile("demodata/story.json")
	if err != nil {
		return story, fmt.Errorf("read demo data: %w", err)
	}
	if err := json.Unmarshal(raw, &story); err != nil {
		return story, fmt.Errorf("read demo data: %w", err)
	}
	return story, nil
}

func runDemo(ctx context.Context, stdout io.Writer, keep string, asJSON bool) error {
	story, err := loadDemoStory()
	if err != nil {
		return err
	}

	dbPath := keep
	if keep != "" {
		if _, err := os.Stat(keep); err == nil {
			return fmt.Errorf("--keep %s: the file exists; name a new file, so that the demo's made-up events do not mix with a real store", keep)
		}
	}
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "tokentrail-demo-")
		if err != nil {
			return fmt.Errorf("create temporary store: %w", err)
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "demo.db")
	}
	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	// The demo imports as tokentrail import does, with detection on, so
	// that a kept store holds the anomalies that the report lists. The new
	// store keeps no --rules or --enrich file, so the built-in rules apply
	// and nothing is printed on standard error.
	found, err := newDetection(ctx, io.Discard, db, "", "")
	if err != nil {
		return err
	}
	defer found.close()

	log := stdout
	if asJSON {
		log = io.Discard
	}
	fmt.Fprintf(log, "tokentrail demo: importing one morning of a web portal's logs into %s\n\n", dbPath)
	if err := importDemo(ctx, db, log, found.observe); err != nil {
		return err
	}
	listCommand := "" // a temporary store is deleted before anyone could list them
	if keep != "" {
		listCommand = "tokentrail --db " + keep + " anomalies"
	}
	fmt.Fprintln(log)
	if err := found.storeImported(ctx, db, log, listCommand); err != nil {
		return err
	}

	fmt.Fprintf(log, "\nThe story: a user's access token is used from the office as usual; from %s a\n"+
		"script starts paging through a customer export with the same token; the token is\n"+
		"revoked, and the script's next requests are refused. The investigation:\n\n", story.AttackerIP)
	fmt.Fprintf(log, "$ tokentrail investigate %s\n\n", story.Token)

	detection := detect.Config{UserAgents: found.enricher, IPLists: found.enricher}
	report, err := forensics.InvestigateToken(ctx, db, forensics.TokenRef{TokenID: story.Token}, forensics.Options{Now: time.Now(), Detect: enrichedDetector(ctx, detection, found.enricher, db, nil)})
	if err != nil {
		return fmt.Errorf("investigate demo token: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	if err := writeReport(stdout, report); err != nil {
		return err
	}
	if keep != "" {
		fmt.Fprintf(stdout, "\nThe store is kept: tokentrail --db %s investigate %s\n", keep, story.Token)
	}
	return nil
}

// importDemo imports the demo data set into db, passing each event to
// onEvent when it is set, and prints one summary per file to log.
func importDemo(ctx context.Context, db ingest.Appender, log io.Writer, onEvent func(audit.Event)) error {
	mapping, err := demoMapping()
	if err != nil {
		return err
	}
	inputs := []struct {
		file   string
		format source.Format
		what   string
	}{
		{"keycloak-events.log", keycloak.Format(keycloak.Options{}), "Keycloak events: logins, token issuance, refresh, revocation"},
		{"gateway-access.jsonl", jsonl.Format(mapping), "API gateway access log: one line per request, with the token's claims"},
	}
	for _, in := range inputs {
		data, err := demoData.ReadFile("demodata/" + in.file)
		if err != nil {
			return fmt.Errorf("read demo data: %w", err)
		}
		sum, err := ingest.File(ctx, db, in.format, source.Input{Reader: bytes.NewReader(data), Name: in.file}, ingest.Options{OnEvent: onEvent})
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "  %-22s %s\n  %-22s %s\n", in.file, in.what, "", formatSummary(sum))
	}
	return nil
}

func demoMapping() (jsonl.Mapping, error) {
	raw, err := demoData.ReadFile("demodata/gateway-map.yaml")
	if err != nil {
		return jsonl.Mapping{}, fmt.Errorf("read demo data: %w", err)
	}
	m, err := jsonl.LoadMapping(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("read demo gateway mapping: %w", err)
	}
	return m, nil
}
