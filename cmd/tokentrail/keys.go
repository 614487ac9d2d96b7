package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

func newKeysCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke the API keys of the tokentrail server",
		Long: `The tokentrail server authenticates each API request by an API key, sent as
"Authorization: Bearer KEY". Each key has one or more roles:
  ingest  send events
  read    read reports, incidents, anomalies and the revocation feed
  revoke  record revocations, which the revocation feed serves to middleware
  admin   every other role, plus managing keys and reading the access log

The store keeps only the SHA-256 digest of each key, so a key is shown once,
when it is created, and cannot be shown again. Run these commands on the
store that the server uses (--db or TOKENTRAIL_DB).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeysCreateCommand(g), newKeysListCommand(g), newKeysRevokeCommand(g))
	return cmd
}

func newKeysCreateCommand(g *globalFlags) *cobra.Command {
	var (
		name  string
		roles []string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE [--role ROLE]",
		Short: "Create an API key and print it once",
		Long: `Create stores a new API key with a name and roles, and prints the key on
stdout. The key is shown only this once: the store keeps its SHA-256 digest,
so copy it into the secret store of the service or person that uses it.
Create makes the store file when it does not exist, and says so.`,
		Example: `  tokentrail keys create --name payments-api --role ingest
  tokentrail keys create --name oncall --role admin
  KEY=$(tokentrail keys create --name soc-dashboard --role read)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeysCreate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g.db, name, roles)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", fmt.Sprintf("who uses the key, such as payments-api, at most %d characters (required)", apikey.MaxNameLength))
	fl.StringSliceVar(&roles, "role", nil, "a role of the key: ingest, read, revoke or admin (repeat the flag or separate with commas; required)")
	return cmd
}

func runKeysCreate(ctx context.Context, stdout, stderr io.Writer, dbPath, name string, roleNames []string) error {
	if name == "" {
		return errors.New("missing --name: say who uses the key, such as --name payments-api")
	}
	if len(roleNames) == 0 {
		return errors.New("missing --role: give ingest, read, revoke or admin, or several with --role read --role ingest")
	}
	roles := make([]apikey.Role, 0, len(roleNames))
	for _, r := range roleNames {
		role, err := apikey.ParseRole(strings.TrimSpace(r))
		if err != nil {
			return fmt.Errorf("invalid --role: %w", err)
		}
		roles = append(roles, role)
	}

	_, statErr := os.Stat(dbPath)
	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if !isPostgres(dbPath) && errors.Is(statErr, fs.ErrNotExist) {
		// A key in a file that the server does not read fails every
		// request, so a new file is worth a line.
		fmt.Fprintf(stderr, "created the store %s, which contains no events yet; start the server on it with --db or TOKENTRAIL_DB\n", dbPath)
	}
	secret, k, err := apikey.NewManager(db, apikey.Config{}).Create(ctx, name, roles)
	if err != nil {
		return err
	}

	fmt.Fprintf(stderr, "created API key %s (%s) with roles %s in %s\n", k.ID, printable(k.Name), joinRoles(k.Roles), dbPath)
	fmt.Fprintln(stderr, "The key is shown only now, on stdout: the store keeps only its SHA-256 digest, so copy the key to where it will be used.")
	_, err = fmt.Fprintln(stdout, secret)
	return err
}

func newKeysListCommand(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the API keys, revoked ones included",
		Long: `List prints every API key of the store, oldest first, with its ID, name,
roles, creation time and status. It never prints a key's secret, which the
store does not keep. --json prints {"keys": [...]}, each key with id, name,
roles, created_at and, once revoked, revoked_at.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openKeyStoreReadOnly(cmd.Context(), g.db)
			if err != nil {
				return err
			}
			defer db.Close()
			keys, err := apikey.NewManager(db, apikey.Config{}).List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if keys == nil {
					keys = []apikey.Key{}
				}
				return writeJSON(cmd.OutOrStdout(), struct {
					Keys []apikey.Key `json:"keys"`
				}{keys})
			}
			return writeKeys(cmd.OutOrStdout(), keys)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"keys": [...]} as JSON`)
	return cmd
}

// writeKeys prints one row per key.
func writeKeys(w io.Writer, keys []apikey.Key) error {
	p := &printer{w: w}
	if len(keys) == 0 {
		p.line("no API key: create one with tokentrail keys create --name NAME --role ROLE")
		return p.err
	}
	t := p.table()
	fmt.Fprintln(t, "ID\tNAME\tROLES\tCREATED\tSTATUS")
	for _, k := range keys {
		status := "valid"
		if k.Revoked() {
			status = "revoked " + stamp(k.RevokedAt)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", k.ID, printable(k.Name), joinRoles(k.Roles), stamp(k.CreatedAt), status)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	return p.err
}

func newKeysRevokeCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Long: fmt.Sprintf(`Revoke marks the API key with this ID revoked, so that the server rejects
it. A running server trusts a key it has read for %v, so it rejects the key
within that time. A key revoked already keeps its first revocation time.
The ID is the one keys list prints, which is also the part of the key
between "tt_" and the next "_".`, apikey.DefaultCacheTTL),
		Example: `  tokentrail keys revoke 3f9a0c12b7de`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeysRevoke(cmd.Context(), cmd.OutOrStdout(), g.db, args[0])
		},
	}
}

func runKeysRevoke(ctx context.Context, stdout io.Writer, dbPath, id string) error {
	if strings.HasPrefix(id, "tt_") {
		// NOTE: the argument is not echoed, since it may be a whole key.
		return errors.New("invalid key ID: the argument starts with tt_, so it looks like a whole API key; give only its ID, which keys list prints")
	}
	db, err := openKeyStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	before, _, found, err := db.KeyByID(ctx, id)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("no API key has ID %q in %s: tokentrail keys list prints the IDs", id, dbPath)
	case before.Revoked():
		_, err := fmt.Fprintf(stdout, "API key %s (%s) was revoked already, at %s\n", id, printable(before.Name), stamp(before.RevokedAt))
		return err
	}

	k, err := apikey.NewManager(db, apikey.Config{}).Revoke(ctx, id)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "revoked API key %s (%s) at %s; a running server rejects it within %v\n",
		k.ID, printable(k.Name), stamp(k.RevokedAt), apikey.DefaultCacheTTL)
	return err
}

type accessLogFlags struct {
	key    string
	target string
	since  string
	until  string
	limit  int
	json   bool
}

func newAccessLogCommand(g *globalFlags) *cobra.Command {
	var f accessLogFlags
	cmd := &cobra.Command{
		Use:   "access-log [--key ID] [--target T] [--since TIME] [--until TIME] [--limit N] [--json]",
		Short: "List who read which token, subject or incident through the server",
		Long: `The server records every read of a token, subject or incident: the time,
the API key and its name, the action (such as token.report), the target
read and the client's address. access-log lists these records, newest
first. --json prints {"accesses": [...]}, the form the server's
/api/v1/access-log returns.`,
		Example: `  tokentrail access-log --target alice
  tokentrail access-log --key 3f9a0c12b7de --since 2026-11-20T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAccessLog(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g.db, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "only the accesses made with the API key of this ID")
	fl.StringVar(&f.target, "target", "", "only the accesses of this token ID, fingerprint, subject or address")
	fl.StringVar(&f.since, "since", "", "only the accesses at or after this RFC 3339 time")
	fl.StringVar(&f.until, "until", "", "only the accesses before this RFC 3339 time")
	fl.IntVar(&f.limit, "limit", 100, "at most this many, the newest (0: no limit)")
	fl.BoolVar(&f.json, "json", false, `print {"accesses": [...]} as JSON`)
	return cmd
}

func runAccessLog(ctx context.Context, stdout, stderr io.Writer, dbPath string, f accessLogFlags) error {
	if f.limit < 0 {
		return fmt.Errorf("invalid --limit %d: want 0 for no limit, or more", f.limit)
	}
	r, err := parseTimeRange(f.since, f.until)
	if err != nil {
		return err
	}
	q := store.AccessQuery{KeyID: f.key, Target: f.target, Since: r.Since, Until: r.Until, Limit: f.limit}
	if fp := strings.ToLower(strings.TrimSpace(f.target)); audit.IsFingerprint(fp) {
		q.Target = fp // the server stores fingerprints in lowercase
	}

	db, err := openKeyStoreReadOnly(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.Accesses(ctx, q)
	if err != nil {
		return err
	}

	if f.limit > 0 && len(list) == f.limit {
		fmt.Fprintf(stderr, "access-log: showing the newest %d accesses; raise --limit, or narrow with --since, --key or --target, to see older ones\n", f.limit)
	}
	if f.json {
		if list == nil {
			list = []apikey.Access{}
		}
		return writeJSON(stdout, struct {
			Accesses []apikey.Access `json:"accesses"`
		}{list})
	}
	return writeAccesses(stdout, list, q)
}

// writeAccesses prints one row per access.
func writeAccesses(w io.Writer, list []apikey.Access, q store.AccessQuery) error {
	p := &printer{w: w}
	if len(list) == 0 {
		if q == (store.AccessQuery{Limit: q.Limit}) {
			p.line("no access recorded: the server records each read of a token, subject or incident made through its API")
		} else {
			p.line("no access matches the filters: widen them")
		}
		return p.err
	}
	t := p.table()
	fmt.Fprintln(t, "TIME\tKEY\tACTION\tTARGET\tFROM")
	for _, a := range list {
		from := "unknown"
		if a.RemoteIP.IsValid() {
			from = a.RemoteIP.String()
		}
		fmt.Fprintf(t, "%s\t%s (%s)\t%s\t%s\t%s\n", stamp(a.Time), printable(a.KeyID), printable(a.KeyName),
			printable(a.Action), printable(orNone(a.Target, "(none)")), from)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	return p.err
}

func joinRoles(roles []apikey.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ",")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openKeyStore opens an existing store for a key change.
func openKeyStore(ctx context.Context, path string) (eventStore, error) {
	if err := checkStoreExists(path); err != nil {
		return nil, err
	}
	return openStore(ctx, path)
}

func openKeyStoreReadOnly(ctx context.Context, path string) (eventStore, error) {
	if err := checkStoreExists(path); err != nil {
		return nil, err
	}
	return openStoreReadOnly(ctx, path)
}

func checkStoreExists(path string) error {
	if isPostgres(path) {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s: name the store that the server uses with --db or TOKENTRAIL_DB", path)
	}
	return nil
}
