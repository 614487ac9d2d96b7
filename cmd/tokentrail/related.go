package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/report"
)

type relatedFlags struct {
	subject string
	token   string
	since   string
	until   string
	limit   int
	json    bool
}

func newRelatedCommand(g *globalFlags) *cobra.Command {
	var f relatedFlags
	cmd := &cobra.Command{
		Use:   "related (--subject S | --token JTI) [--since TIME] [--until TIME] [--json]",
		Short: "List the tokens related to a subject or a token, strongest first",
		Long: `Related lists the tokens linked to a subject's tokens or to one token, each
with why: refresh lineage (parent, child, ancestor, descendant), the same
sign-in session, the same subject, the same client (network and user agent)
or the same network. Each token gets a score out of 100 and a grade:
strong (80 and above), medium (50 to 79) or weak (below 50). A network that
more than 3 subjects used, such as an office NAT or a VPN exit, links tokens
weakly: its client and network relations score half. The scores rank the
relations by judgment; they are not measured probabilities.

Lineage is followed whatever --since and --until say, because it is a fact
of the tokens. The other relations come from the events between them. From
a subject, the subject's own tokens are listed too; from a token, the token
itself is left out.

--json prints one JSON array of forensics.RelatedToken (docs/report-json.md).`,
		Example: `  tokentrail related --token 807d2f89-3ece-4523-b752-77c66c5421f1
  tokentrail related --subject alice --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := relatedQuery(f)
			if err != nil {
				return err
			}
			if err := requireStore(g.db); err != nil {
				return err
			}
			db, err := openStoreReadOnly(cmd.Context(), g.db)
			if err != nil {
				return err
			}
			defer db.Close()

			list, err := forensics.FindRelatedTokens(cmd.Context(), db, q)
			switch {
			case errors.Is(err, forensics.ErrTokenNotFound):
				return fmt.Errorf("no event of token %q in %s%s: check the jti%s", f.token, g.db, rangeText(f), widenRange(f))
			case errors.Is(err, forensics.ErrSubjectNotFound):
				return fmt.Errorf("no event of subject %q in %s%s: %s%s", f.subject, g.db, rangeText(f), subjectAdvice(f.subject), widenRange(f))
			case err != nil:
				return fmt.Errorf("find related tokens: %w", err)
			}

			if f.json {
				return report.WriteJSON(cmd.OutOrStdout(), list)
			}
			return writeRelated(cmd.OutOrStdout(), f, list)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.subject, "subject", "", "start from every token of this subject (sub)")
	fl.StringVar(&f.token, "token", "", "start from the token with this jti")
	fl.StringVar(&f.since, "since", "", "read events at or after this time, RFC 3339 or as reports print it (default: no bound)")
	fl.StringVar(&f.until, "until", "", "read events before this time, RFC 3339 or as reports print it (default: no bound)")
	fl.IntVar(&f.limit, "limit", 0, "at most this many related tokens, strongest first (0: 200)")
	fl.BoolVar(&f.json, "json", false, "print a JSON array")
	return cmd
}

// relatedQuery turns the flags into a query, naming the flag of a bad
// value.
func relatedQuery(f relatedFlags) (forensics.RelatedQuery, error) {
	q := forensics.RelatedQuery{Subject: strings.TrimSpace(f.subject), TokenID: strings.TrimSpace(f.token), Limit: f.limit}
	switch {
	case q.Subject == "" && q.TokenID == "":
		return q, errors.New("missing start: name a subject with --subject S or a token with --token JTI")
	case q.Subject != "" && q.TokenID != "":
		return q, errors.New("--subject and --token both given: name one start, and run related again for the other")
	case audit.ContainsToken(q.TokenID):
		return q, errors.New("--token looks like a raw JWT; give its jti claim, or find the jti with tokentrail investigate --token-file FILE")
	case f.limit < 0:
		return q, fmt.Errorf("invalid --limit %d: want 0 for the default of 200, or more", f.limit)
	}

	var err error
	if f.since != "" {
		if q.Since, err = parseReportTime("--since", f.since); err != nil {
			return q, err
		}
	}
	if f.until != "" {
		if q.Until, err = parseReportTime("--until", f.until); err != nil {
			return q, err
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, fmt.Errorf("invalid --until %s: it is not after --since %s, so nothing lies between them", f.until, f.since)
	}
	return q, nil
}

// rangeText returns " between SINCE and UNTIL" for the bounds given, or "".
func rangeText(f relatedFlags) string {
	switch {
	case f.since != "" && f.until != "":
		return fmt.Sprintf(" between %s and %s", f.since, f.until)
	case f.since != "":
		return " since " + f.since
	case f.until != "":
		return " before " + f.until
	}
	return ""
}

// widenRange returns the advice to widen --since and --until, when either
// narrowed the search.
func widenRange(f relatedFlags) string {
	if f.since == "" && f.until == "" {
		return ""
	}
	return ", or widen --since and --until"
}

// subjectAdvice returns what to check about a subject that no event names.
// A responder often has the user's e-mail address, while identity
// providers log their own user id as the subject.
func subjectAdvice(subject string) string {
	if !strings.Contains(subject, "@") {
		return "check the subject"
	}
	return "check the subject: identity providers log their own user id as the subject, not the e-mail address " +
		"(Okta the actor.id such as 00u1abcd..., Auth0 the user_id such as auth0|..., Keycloak and Entra ID a GUID), " +
		"so find the id in the provider's console or in a sign-in record"
}

// writeRelated prints one line per related token, then one indented line
// per further reason.
func writeRelated(w io.Writer, f relatedFlags, list []forensics.RelatedToken) error {
	p := &printer{w: w}
	start := "token " + f.token
	if f.subject != "" {
		start = "subject " + f.subject
	}
	if len(list) == 0 {
		if f.since == "" && f.until == "" {
			p.line("no token is related to %s in the events read: import more logs", start)
		} else {
			p.line("no token is related to %s in the events read: widen --since and --until, or import more logs", start)
		}
		return p.err
	}

	p.line("%s related to %s, strongest first", counted(len(list), "token", "tokens"), start)
	t := tabwriter.NewWriter(errWriter{p}, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t, "TOKEN\tSUBJECT\tSCORE\tSTRENGTH\tREASONS")
	for _, r := range list {
		for i, reason := range r.Reasons {
			why := fmt.Sprintf("%s (%d): %s", reason.Kind, reason.Score, reason.Detail)
			if i == 0 {
				fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\n", printable(r.TokenID), printable(orNone(r.Subject, "-")), r.Score, r.Strength, printable(why))
				continue
			}
			fmt.Fprintf(t, "\t\t\t\t%s\n", printable(why))
		}
	}
	t.Flush()
	return p.err
}
