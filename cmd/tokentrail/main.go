// Command tokentrail imports the logs a team already has (Keycloak,
// Kubernetes audit, JSON lines), stores each token's trail, and investigates
// one token end to end: where it came from, and who used it when.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	_ "time/tzdata" // --time-zone and mapping time zones work on machines without a zone database

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
)

// errRejected makes the process exit with status 1 after a command that did
// its work but had to reject part of its input, which it already reported.
var errRejected = errors.New("some records were rejected")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	err := newRootCommand(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	if err != nil {
		if !errors.Is(err, errRejected) {
			// An argument can be a token pasted in the wrong place, and
			// errors quote their arguments.
			fmt.Fprintln(os.Stderr, "tokentrail:", audit.RedactTokens(err.Error()))
		}
		if ctx.Err() != nil {
			os.Exit(130) // the shell's status for a command ended by Ctrl-C
		}
		os.Exit(1)
	}
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	db string
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "tokentrail",
		Short: "Trace where a JWT came from and who used it when",
		Long: `tokentrail keeps the trail of each JWT's life (issued, used, refreshed,
revoked, rejected), imported from the logs you already have, and reports on
one token end to end. Raw tokens are never stored: only the jti and the
SHA-256 fingerprint of the token.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.db, "db", defaultDBPath(),
		"store of the events: a SQLite file, or a postgres://USER@HOST:PORT/DATABASE URL whose password is in PGPASSWORD or ~/.pgpass (environment: TOKENTRAIL_DB)")

	root.AddCommand(
		newImportCommand(&g),
		newInvestigateCommand(&g),
		newAnomaliesCommand(&g),
		newDetectCommand(&g),
		newPatternsCommand(&g),
		newRevokeCommand(&g),
		newIncidentCommand(&g),
		newRelatedCommand(&g),
		newKeysCommand(&g),
		newAccessLogCommand(&g),
		newDemoCommand(),
		newSimulateCommand(),
		newServeCommand(&g),
	)
	return root
}
