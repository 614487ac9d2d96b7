package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

type revokeFlags struct {
	jti          string
	fingerprint  string
	family       string
	session      string
	subject      string
	issuedBefore string
	force        bool
	actor        string
	reason       string
	method       string
	at           string
	expiresAt    string
}

func newRevokeCommand(g *globalFlags) *cobra.Command {
	var f revokeFlags
	cmd := &cobra.Command{
		Use:   "revoke (--jti ID | --fingerprint HEX | --family ID | --session ID | --subject S) --actor WHO --reason TEXT",
		Short: "Revoke a token, refresh family, session or subject's tokens",
		Long: `Revoke records a revoked event in the store: what is revoked, who revoked
it, when and why. Services that enforce revocations (httpmw, grpcmw) read
the store with a revocation.Refresher and reject the revoked tokens within
the refresher's interval plus one poll: under 4 seconds with the defaults.

Name exactly one target:
  --jti ID           one token, by its jti claim
  --fingerprint HEX  one token, by the SHA-256 of the compact token
                     (printf %s "$TOKEN" | sha256sum), for tokens without jti
  --family ID        every token of the refresh lineage whose root refresh
                     token has this jti, the root token included
  --session ID       every token of this sign-in session (the sid claim)
  --subject S        every token of this subject issued before
                     --issued-before (default: --at, so every token issued
                     until now)

A revocation that the store already holds is not recorded again: revoke
prints the earlier one and exits with status 0. An earlier revocation counts
when it covers the target: the same token, family or session, a family
revocation for a token that is its root, or a subject revocation whose
not-before is the same or later. The event's ID derives from the target,
the subject's not-before and --at, so a retry with the same --at is stored
once even when two retries run at the same moment.

For --jti and --fingerprint, the token's subject, issuer and expiry are
copied from its stored events. Services drop an entry 10 minutes after
--expires-at, or the token's recorded expiry; without either they keep it.

Revoke warns when no event of the target is stored, which is often a
mistyped value, and records the revocation anyway. It rejects --family
with a token that names a parent, and names the family's root instead:
services name a family by its root, so such a revocation would cover that
one token. It also rejects a target with space at its start or end, such
as a jti pasted with the space before it. --force records either as given.

Times are RFC 3339 (2026-11-20T10:00:00Z) or as reports print them
(2026-11-20 10:00:00Z).`,
		Example: `  tokentrail revoke --jti 5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55 --actor oncall@example.com --reason "token leaked in a CI log"
  tokentrail revoke --subject alice --actor oncall@example.com --reason "laptop stolen" --expires-at 2026-11-20T12:00:00Z
  tokentrail revoke --session 9d8c7b6a --actor soc-bot --method automated --reason "impossible_travel on the session's token"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRevoke(cmd.Context(), cmd.OutOrStdout(), g.db, f, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.jti, "jti", "", "revoke the token with this jti")
	fl.StringVar(&f.fingerprint, "fingerprint", "", "revoke the token with this fingerprint: the SHA-256 of the compact token in 64 hex digits")
	fl.StringVar(&f.family, "family", "", "revoke every token of the refresh family whose root refresh token has this jti")
	fl.StringVar(&f.session, "session", "", "revoke every token of this sign-in session (sid)")
	fl.StringVar(&f.subject, "subject", "", "revoke every token of this subject (sub) issued before --issued-before")
	fl.StringVar(&f.issuedBefore, "issued-before", "", "with --subject: revoke the tokens issued before this time, at most --at unless --force (default: --at)")
	fl.BoolVar(&f.force, "force", false, "with --subject: accept an --issued-before after --at, which also refuses the tokens the subject signs in for until then; "+
		"with --family: accept a token that is not the root of its refresh family; "+
		"with any target: accept a value with space at its start or end")
	fl.StringVar(&f.actor, "actor", "", "who revokes, such as your e-mail address or a bot's name (required)")
	fl.StringVar(&f.reason, "reason", "", "why, in words a later reader understands (required)")
	fl.StringVar(&f.method, "method", string(audit.RevokedByAdmin), "how the revocation was decided: admin, api, logout or automated")
	fl.StringVar(&f.at, "at", "", "when the revocation takes effect, RFC 3339 or as reports print it (2026-11-20 10:00:00Z) (default: now)")
	fl.StringVar(&f.expiresAt, "expires-at", "", "time by which every token it covers has expired, after which services drop the entry (default: the token's recorded expiry for --jti and --fingerprint, otherwise never)")
	return cmd
}

func runRevoke(ctx context.Context, stdout io.Writer, dbPath string, f revokeFlags, now time.Time) error {
	e, target, err := buildRevocation(f, now)
	if err != nil {
		return err
	}

	if _, err := os.Stat(dbPath); !isPostgres(dbPath) && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s: name the store that your services read with --db or TOKENTRAIL_DB", dbPath)
	}
	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	known := true
	if e.RevocationScope == audit.RevokeToken {
		if known, err = revocation.DescribeToken(ctx, db, &e, f.expiresAt == ""); err != nil {
			return err
		}
	}

	earlier, err := revocation.Covering(ctx, db, &e)
	if err != nil {
		return err
	}
	if earlier != nil {
		fmt.Fprintf(stdout, "%s is already revoked: event %s at %s by %s (%s), so nothing was recorded\n",
			target, plainOrQuoted(earlier.ID), stamp(earlier.Time), orNone(plainOrQuoted(earlier.Actor), "an unknown actor"),
			orNone(plainOrQuoted(earlier.Reason), "no reason given"))
		return nil
	}

	warning := ""
	if !known {
		warning = fmt.Sprintf("no event of %s is stored: check the value if you expected one", target)
	}
	if e.RevocationScope != audit.RevokeToken {
		if warning, err = checkTarget(ctx, db, &e, f.force); err != nil {
			return err
		}
	}

	if err := e.Validate(); err != nil {
		return invalidRevocation(err)
	}
	appended, err := db.Append(ctx, []audit.Event{e})
	if err != nil {
		return fmt.Errorf("record the revocation of %s in %s: %w", target, plainOrQuoted(dbPath), err)
	}
	if appended.Inserted == 0 {
		// Only a revocation with the same ID, stored between the check
		// above and the Append, gets here.
		fmt.Fprintf(stdout, "%s is already revoked: event %s is stored, so nothing was recorded\n", target, e.ID)
		return nil
	}

	writeRevocation(stdout, &e, target, warning, dbPath)
	return nil
}

// buildRevocation turns the flags into a revoked event and a description of
// its target, naming the flag of any bad value.
func buildRevocation(f revokeFlags, now time.Time) (audit.Event, string, error) {
	var e audit.Event
	targets := []struct{ flag, value string }{
		{"--jti", f.jti}, {"--fingerprint", f.fingerprint}, {"--family", f.family},
		{"--session", f.session}, {"--subject", f.subject},
	}
	var named []string
	var given struct{ flag, value string }
	for _, t := range targets {
		if t.value != "" {
			named = append(named, t.flag)
			given = t
		}
	}
	switch {
	case len(named) == 0:
		return e, "", errors.New("missing target: name what to revoke with one of --jti, --fingerprint, --family, --session or --subject")
	case len(named) > 1:
		return e, "", fmt.Errorf("too many targets (%s): one revoke records one revocation, so run it once for each", strings.Join(named, ", "))
	}
	if strings.TrimSpace(f.actor) == "" {
		return e, "", errors.New("missing --actor: say who revokes, such as --actor oncall@example.com, so that the trail records it")
	}
	if strings.TrimSpace(f.reason) == "" {
		return e, "", errors.New(`missing --reason: say why, such as --reason "token leaked in a CI log", so that a later reader understands the revocation`)
	}
	for _, text := range []struct{ flag, value string }{{"--actor", f.actor}, {"--reason", f.reason}} {
		if audit.ContainsToken(text.value) {
			// The value is not quoted: it contains the token.
			return e, "", fmt.Errorf("invalid %s: it contains a raw JWT, which tokentrail never stores; "+
				"write the token's jti instead (tokentrail investigate --token-file FILE prints it)", text.flag)
		}
	}
	method := audit.RevocationMethod(f.method)
	if method == "" || !method.Valid() {
		return e, "", fmt.Errorf("invalid --method %q: want admin, api, logout or automated", f.method)
	}
	if f.issuedBefore != "" && f.subject == "" {
		return e, "", fmt.Errorf("--issued-before %s needs --subject: only a subject revocation has a not-before time", plainOrQuoted(f.issuedBefore))
	}
	at, err := parseFlagTime("--at", f.at, now)
	if err != nil {
		return e, "", err
	}
	expires, err := parseFlagTime("--expires-at", f.expiresAt, time.Time{})
	if err != nil {
		return e, "", err
	}

	// A space copied along with an id names another value, which no
	// service would match. A raw token is left to the check below, which
	// does not echo it, and sha256sum's hex is trimmed.
	if given.flag != "--fingerprint" && !audit.ContainsToken(given.value) &&
		strings.TrimSpace(given.value) != given.value && !f.force {
		return e, "", fmt.Errorf("invalid %s %s: it has space at its start or end, which no id of a token, session or subject carries; "+
			"remove the space, or pass --force to revoke the value as given", given.flag, strconv.Quote(given.value))
	}

	var target string
	switch {
	case slices.ContainsFunc([]string{f.jti, f.family, f.session, f.subject}, audit.ContainsToken):
		// The value is not quoted: it is the token.
		return e, "", errors.New("a raw JWT was given where an id belongs; tokentrail never stores tokens, so give its jti claim " +
			"(tokentrail investigate --token-file FILE finds it), or revoke it by --fingerprint with its SHA-256")
	case f.jti != "":
		e = revocation.TokenEvent(f.jti, "", at)
		target = "token " + plainOrQuoted(f.jti)
	case f.fingerprint != "":
		if audit.ContainsToken(f.fingerprint) {
			// The value is not quoted: it is the token.
			return e, "", errors.New(`invalid --fingerprint: it is a raw token, which tokentrail never stores, so pass its SHA-256 instead (printf %s "$TOKEN" | sha256sum)`)
		}
		// sha256sum prints lowercase hex, but some tools print uppercase,
		// which names the same digest.
		f.fingerprint = strings.ToLower(strings.TrimSpace(f.fingerprint))
		if !audit.IsFingerprint(f.fingerprint) {
			return e, "", fmt.Errorf("invalid --fingerprint %q: want 64 hex digits, the SHA-256 of the compact token (printf %%s \"$TOKEN\" | sha256sum)", f.fingerprint)
		}
		e = revocation.TokenEvent("", f.fingerprint, at)
		target = "token with fingerprint " + f.fingerprint
	case f.family != "":
		e = revocation.FamilyEvent(f.family, at)
		target = "refresh family " + plainOrQuoted(f.family)
	case f.session != "":
		e = revocation.SessionEvent(f.session, at)
		target = "session " + plainOrQuoted(f.session)
	default:
		notBefore, err := parseFlagTime("--issued-before", f.issuedBefore, at)
		if err != nil {
			return e, "", err
		}
		// A not-before in the future also revokes the tokens the user
		// signs in for until then, so it locks the user out. A typo in the
		// year would do so for years, and nothing undoes a revocation.
		if notBefore.After(at.Add(maxNotBeforeAhead)) && !f.force {
			return e, "", fmt.Errorf("invalid --issued-before %s: it is after --at %s, so every token %s signs in for until then would be rejected too; "+
				"give a time up to --at, or pass --force to lock the subject out until then", plainOrQuoted(f.issuedBefore), stamp(at), plainOrQuoted(f.subject))
		}
		e = revocation.SubjectEvent(f.subject, notBefore, at)
		target = fmt.Sprintf("subject %s's tokens issued before %s", plainOrQuoted(f.subject), stamp(notBefore))
	}

	e.Actor, e.Reason, e.RevocationMethod = f.actor, f.reason, method
	e.ExpiresAt = expires
	e.Source = "tokentrail revoke"
	if err := e.Validate(); err != nil {
		return e, "", invalidRevocation(err)
	}
	return e, target, nil
}

// parseFlagTime reads a time in the forms that parseReportTime accepts, or
// returns def for an empty value.
func parseFlagTime(flag, value string, def time.Time) (time.Time, error) {
	if value == "" {
		return def, nil
	}
	return parseReportTime(flag, value)
}

// fieldFlags names the flag that sets each field of a revoked event.
var fieldFlags = map[string]string{
	"TokenID": "--jti or --family", "Fingerprint": "--fingerprint", "SessionID": "--session",
	"Subject": "--subject", "Actor": "--actor", "Reason": "--reason", "Time": "--at",
}

// invalidRevocation words a validation error in terms of the flags.
func invalidRevocation(err error) error {
	var fe *audit.FieldError
	if errors.As(err, &fe) {
		if flag, ok := fieldFlags[fe.Field]; ok {
			return fmt.Errorf("invalid %s: %w", flag, err)
		}
	}
	return fmt.Errorf("invalid revocation: %w", err)
}

// writeRevocation prints what revoke recorded, the warning about its
// target if any, and how services learn it.
func writeRevocation(w io.Writer, e *audit.Event, target, warning, dbPath string) {
	fmt.Fprintf(w, "revoked %s as of %s\n", target, stamp(e.Time))
	if e.RevocationScope == audit.RevokeToken && e.Subject != "" {
		fmt.Fprintf(w, "  subject    %s\n", plainOrQuoted(e.Subject))
	}
	fmt.Fprintf(w, "  by         %s (%s): %s\n", plainOrQuoted(e.Actor), e.RevocationMethod, plainOrQuoted(e.Reason))
	fmt.Fprintf(w, "  event      %s in %s\n", e.ID, plainOrQuoted(dbPath))
	switch {
	case e.ExpiresAt.IsZero():
		fmt.Fprintln(w, "  kept       for good by services: pass --expires-at with the latest expiry of the tokens it covers to let them drop it")
	case e.ExpiresAt.Add(revocation.PruneGrace).Before(e.Time):
		fmt.Fprintf(w, "  kept       by no service: the tokens it covers expired at %s, so verifiers reject them already and the revocation is kept in the trail only\n",
			stamp(e.ExpiresAt))
	default:
		fmt.Fprintf(w, "  kept       by services until %s, %s after the tokens it covers expire\n",
			stamp(e.ExpiresAt.Add(revocation.PruneGrace)), revocation.PruneGrace)
	}
	if warning != "" {
		fmt.Fprintf(w, "  WARNING    %s\n", warning)
	}
	fmt.Fprintf(w, "Services that read this store with a revocation.Refresher reject the revoked tokens within its interval plus one poll (%s interval by default).\n",
		revocation.DefaultInterval)
}

// maxNotBeforeAhead is how far --issued-before may pass --at without
// --force: the clock difference between the machine that revokes and the
// issuer, as detect's default clock skew allows.
const maxNotBeforeAhead = time.Minute
