package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
)

// timelineHead and timelineTail bound the events the text report lists; the
// JSON report has them all.
const (
	timelineHead = 25
	timelineTail = 10
)

// writeReport prints a token report for a person to read.
func writeReport(w io.Writer, r *forensics.TokenReport) error {
	p := &printer{w: w}

	p.line("Token %s", orNone(r.TokenID, "(no jti recorded)"))
	if r.Type != "unknown" {
		p.line("  type         %s token (inferred from its events)", r.Type)
	}
	if r.Fingerprint != "" {
		p.line("  fingerprint  %s", r.Fingerprint)
	}
	p.line("  status       %s: %s", strings.ToUpper(string(r.Status)), r.StatusReason)
	p.line("  report time  %s", stamp(r.GeneratedAt))
	p.line("  sources      %s", orNone(strings.Join(r.Sources, ", "), "none"))
	for _, n := range r.Notes {
		p.line("  WARNING      %s", n)
	}

	p.section("Created")
	if c := r.Created; c != nil {
		t := p.table()
		row(t, "time", stamp(c.Time))
		row(t, "event", c.Action)
		row(t, "subject", c.Subject)
		row(t, "issuer", c.Issuer)
		row(t, "client", c.ClientID)
		row(t, "session", c.SessionID)
		row(t, "address", address(c.IP.String(), c.IP.IsValid(), c.Geo))
		row(t, "user agent", c.UserAgent)
		row(t, "scopes", strings.Join(c.Scopes, " "))
		row(t, "audience", strings.Join(c.Audience, " "))
		if !c.ExpiresAt.IsZero() {
			row(t, "expires", stamp(c.ExpiresAt))
		}
		row(t, "minted from", c.ParentTokenID)
		row(t, "source", c.Source)
		t.Flush()
	} else {
		p.line("  no issuance recorded: the issuer's logs were not imported, or the token was only seen in use")
	}

	subject := ""
	if r.Created != nil {
		subject = r.Created.Subject
	} else if len(r.Usage.Subjects) > 0 {
		subject = r.Usage.Subjects[0].Value
	}
	p.sessions(r, subject)

	p.section("Usage")
	u := r.Usage
	if u.Total == 0 {
		p.line("  no recorded use")
	} else {
		t := p.table()
		// A rate over less than a minute is meaningless.
		rate := fmt.Sprintf(", %.1f a minute", u.PerMinute)
		if u.SpanSeconds < 60 {
			rate = ""
		}
		row(t, "uses", fmt.Sprintf("%d from %s to %s (%s)%s",
			u.Total, stamp(u.First), stamp(u.Last), detect.FormatDuration(time.Duration(u.SpanSeconds)*time.Second), rate))
		row(t, "addresses", counts(u.IPs, 8))
		row(t, "networks", counts(u.Networks, 8))
		row(t, "countries", counts(u.Countries, 8))
		row(t, "user agents", counts(u.UserAgents, 5))
		row(t, "used as", counts(u.Subjects, 5))
		row(t, "top paths", counts(u.Paths, 10))
		t.Flush()
		p.hourly(u.Hourly)
	}
	if u.Refreshes > 0 {
		times := "times"
		if u.Refreshes == 1 {
			times = "time"
		}
		p.line("  redeemed as a refresh token %d %s", u.Refreshes, times)
	}

	p.section("Anomalies")
	if len(r.Anomalies) == 0 {
		p.line("  none recorded")
	}
	for _, a := range r.Anomalies {
		p.line("  %s  %-8s %s: %s", stamp(a.Time), a.Severity, a.Rule, a.Summary)
	}

	p.section("Revocations")
	if len(r.Revocations) == 0 {
		p.line("  none recorded")
	}
	for _, rev := range r.Revocations {
		covers := ""
		if rev.Covers != "" {
			covers = ", with every token of " + rev.Covers
		}
		p.line("  %s  by %s, method %s, reason %s%s  [%s]", stamp(rev.Time),
			orNone(rev.Actor, "unknown actor"), orNone(string(rev.Method), "unknown"), orNone(strconv.Quote(rev.Reason), "not given"), covers, rev.Source)
	}
	p.section("Rejections")
	if len(r.Rejections) == 0 {
		p.line("  none recorded")
	}
	for i, rej := range r.Rejections {
		if i == maxListedRejections {
			p.line("  ... %d more rejections (--json lists all)", len(r.Rejections)-maxListedRejections)
			break
		}
		what := string(rej.Reason)
		switch {
		case what != "" && rej.Detail != "":
			what += " (" + rej.Detail + ")"
		case rej.Detail != "":
			what = rej.Detail
		case what == "":
			what = "reason not recorded"
		}
		request := strings.TrimSpace(rej.Method + " " + rej.Path)
		if rej.Status != 0 {
			request = strings.TrimSpace(request + " answered " + strconv.Itoa(rej.Status))
		}
		if request != "" {
			what += ", " + request
		}
		p.line("  %s  %s, from %s  [%s]", stamp(rej.Time), what,
			orNone(addrString(rej.IP.String(), rej.IP.IsValid()), "unknown address"), rej.Source)
	}

	p.section("Lineage")
	p.line("  minted from    %s", orNone(r.Lineage.Parent, "none recorded"))
	if len(r.Lineage.Children) == 0 {
		p.line("  minted from it none recorded")
	}
	for i, c := range r.Lineage.Children {
		label := ""
		if i == 0 {
			label = "minted from it"
		}
		p.line("  %-14s %s at %s", label, c.TokenID, stamp(c.Time))
	}

	p.timeline(r.Events)
	return p.err
}

// maxListedRejections bounds the rejections the text report lists, so that
// a token refused thousands of times leaves the sections after it readable.
const maxListedRejections = 20

// sessions prints the sign-in sessions of the token, or a line noting that
// no other event of its sessions was imported. An event of another subject than the
// token's names its subject, so that a session shared by two users cannot
// pass for one user's story.
func (p *printer) sessions(r *forensics.TokenReport, subject string) {
	if len(r.Sessions) == 0 {
		var named []string
		for _, e := range r.Events {
			if e.SessionID != "" && !slices.Contains(named, e.SessionID) {
				named = append(named, e.SessionID)
			}
		}
		if len(named) > 0 {
			p.section("Sign-in session")
			p.line("  no other event of session %s was imported (no sign-in, second factor or other token of it)", strings.Join(named, ", "))
		}
		return
	}
	for _, s := range r.Sessions {
		p.section("Sign-in session " + s.ID)
		if s.Basis == "subject" {
			p.line("  the issuing record names no session: this is the session of the latest event of the same subject, issuer and client")
			p.line("  in the hour before issuance, a lead rather than proof")
		}
		for _, e := range s.Events {
			what := orNone(e.Action, "session event")
			if e.Kind == audit.KindIssued {
				what = "issued " + orNone(e.TokenID, "a token")
				if e.TokenID == r.TokenID {
					what += " (this token)"
				}
				if e.Action != "" {
					what += ", " + e.Action
				}
			}
			if e.Outcome != "" {
				what += " (" + e.Outcome + ")"
			}
			if e.Subject != "" && e.Subject != subject {
				what += " as " + e.Subject
			}
			p.line("  %s  %s, from %s, %s  [%s]", stamp(e.Time), what,
				orNone(address(e.IP.String(), e.IP.IsValid(), e.Geo), "unknown address"),
				orNone(shorten(e.UserAgent, 60), "no user agent"), e.Source)
		}
		if s.Truncated {
			p.line("  (more events in this session are not listed)")
		}
	}
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = printable(s)
		}
	}
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// printable escapes every character that strconv.IsPrint rejects: control
// characters, format characters such as U+202E (right-to-left override)
// and U+200B (zero-width space), and spaces other than U+0020. So a value
// taken from a log cannot move the cursor, change colours, forge a line of
// the report, or reorder or hide text on the responder's screen. Each such
// character is written as its Go escape (\n, \x1b, \u202e), and a byte that
// is not UTF-8 as \ufffd. The text, Markdown and HTML reports all apply it
// to values from logs, and plainOrQuoted uses the same rule.
func printable(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString("\\ufffd")
		case needsEscape(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// needsEscape reports whether printable escapes r. Ranging over a string
// gives utf8.RuneError for a byte that is not UTF-8.
func needsEscape(r rune) bool {
	return r == utf8.RuneError || !strconv.IsPrint(r)
}

// plainOrQuoted returns a value for a message. Printable text without
// space at either end stays as it is, and an empty value stays empty.
// Anything else is quoted as a Go string, so that a control character in
// it cannot act on the terminal or forge a line.
func plainOrQuoted(s string) string {
	if s == "" || (utf8.ValidString(s) && strings.TrimSpace(s) == s &&
		strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0) {
		return s
	}
	return strconv.Quote(s)
}

func (p *printer) section(title string) {
	p.line("\n%s", title)
}

func (p *printer) table() *tabwriter.Writer {
	return tabwriter.NewWriter(errWriter{p}, 0, 0, 2, ' ', 0)
}

// errWriter lets a tabwriter write through the printer, keeping its first
// error.
type errWriter struct{ p *printer }

func (e errWriter) Write(b []byte) (int, error) {
	if e.p.err != nil {
		return 0, e.p.err
	}
	n, err := e.p.w.Write(b)
	e.p.err = err
	return n, err
}

func row(t *tabwriter.Writer, label, value string) {
	if value != "" {
		fmt.Fprintf(t, "  %s\t%s\n", label, printable(value))
	}
}

// hourly draws the uses per hour of the day as bars, one line per hour that
// has uses.
func (p *printer) hourly(hours [24]int) {
	peak := 0
	for _, n := range hours {
		peak = max(peak, n)
	}
	p.line("  uses by hour (UTC):")
	for h, n := range hours {
		if n == 0 {
			continue
		}
		bar := strings.Repeat("#", max(1, n*40/peak))
		p.line("    %02d:00  %-40s %d", h, bar, n)
	}
}

func (p *printer) timeline(events []audit.Event) {
	noun := "events"
	if len(events) == 1 {
		noun = "event"
	}
	p.section(fmt.Sprintf("Timeline (%d %s)", len(events), noun))
	t := p.table()
	fmt.Fprintln(t, "  TIME\tKIND\tADDRESS\tREQUEST\tSTATUS\tUSER AGENT\tSOURCE")
	for i, e := range events {
		if len(events) > timelineHead+timelineTail && i == timelineHead {
			fmt.Fprintf(t, "  ...\t\t\t\t\t\t%d more events (--json lists all)\n", len(events)-timelineHead-timelineTail)
		}
		if len(events) > timelineHead+timelineTail && i >= timelineHead && i < len(events)-timelineTail {
			continue
		}
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		request := strings.TrimSpace(e.Method + " " + e.Path)
		if e.Kind == audit.KindRevoked {
			request = "by " + orNone(e.Actor, "unknown actor")
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", stamp(e.Time), e.Kind,
			orNone(addrString(e.IP.String(), e.IP.IsValid()), "-"), orNone(shorten(printable(request), 48), "-"),
			orNone(status, "-"), orNone(shorten(printable(e.UserAgent), 40), "-"), printable(e.Source))
	}
	t.Flush()
}

func counts(list []forensics.Count, limit int) string {
	var parts []string
	for i, c := range list {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(list)-limit))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", shorten(c.Value, 60), c.Count))
	}
	return strings.Join(parts, ", ")
}

func address(ip string, valid bool, g audit.Geo) string {
	s := addrString(ip, valid)
	if s == "" {
		return ""
	}
	var where []string
	for _, part := range []string{g.City, g.Country} {
		if part != "" {
			where = append(where, part)
		}
	}
	if g.ASN != 0 {
		where = append(where, strings.TrimSpace(fmt.Sprintf("AS%d %s", g.ASN, g.Org)))
	}
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

func addrString(ip string, valid bool) string {
	if !valid {
		return ""
	}
	return ip
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format(reportStamp)
}

func orNone(s, none string) string {
	if s == "" || s == `""` {
		return none
	}
	return s
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the output stays valid UTF-8.
	cut := n - 3
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
