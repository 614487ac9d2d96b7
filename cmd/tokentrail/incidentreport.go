package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

// incidentHead and incidentTail bound the timeline events that the text and
// Markdown reports list, so that the plan stays near the top of a ticket.
// The JSON and HTML reports list more.
const (
	incidentHead = 40
	incidentTail = 10
)

// summaryItem is one line of a report's summary: a label and its values.
type summaryItem struct {
	label  string
	values []string
}

// incidentSummary returns what a responder reads first: the suspicious
// tokens and networks, the exposure, the other subjects reached, and what
// was requested or rejected.
func incidentSummary(r *forensics.IncidentReport) []summaryItem {
	var tokens []string
	for _, t := range r.Suspicious.Tokens {
		s := t.TokenID
		if t.Subject != "" && t.Subject != r.Subject {
			s += " of " + t.Subject
		}
		s += " (" + strings.Join(t.Rules, ", ")
		if t.MaxSeverity != 0 {
			s += "; " + t.MaxSeverity.String()
		}
		tokens = append(tokens, s+")")
	}

	var networks []string
	for _, n := range r.Suspicious.Networks {
		s := n.Network + ": " + strings.Join(n.Addresses, ", ")
		if who := networkOwner(n); who != "" {
			s += " (" + who + ")"
		}
		s += fmt.Sprintf(", %s", counted(n.Events, "event", "events"))
		if n.Truncated {
			s += " or more"
		}
		if !n.First.IsZero() {
			s += fmt.Sprintf(" from %s to %s", stamp(n.First), stamp(n.Last))
		}
		s += ", rules " + strings.Join(n.Rules, ", ")
		networks = append(networks, s)
	}

	x := r.Impact.Exposure
	exposure := "none: no token was accepted from a suspicious network"
	if !x.Start.IsZero() {
		state := "closed"
		if x.Open {
			state = "OPEN"
		}
		exposure = fmt.Sprintf("%s to %s, %s: %s", stamp(x.Start), stamp(x.End), state, x.Reason)
		if x.UsesAfterRevocation > 0 {
			tokenWas := "their token was"
			if x.UsesAfterRevocation == 1 {
				tokenWas = "its token was"
			}
			exposure += fmt.Sprintf("; %s accepted after %s revoked, the last at %s",
				counted(x.UsesAfterRevocation, "use was", "uses were"), tokenWas, stamp(x.LastAfterRevocation))
		}
	} else if x.Reason != "" {
		exposure = x.Reason
	}

	var others []string
	for _, s := range r.Impact.Subjects {
		if s.Other {
			others = append(others, fmt.Sprintf("%s (tokens %s)", s.Subject, strings.Join(s.Tokens, ", ")))
		}
	}

	var impacted []string
	for _, t := range r.Impact.Tokens {
		s := fmt.Sprintf("%s: %s accepted from %s to %s", t.TokenID, counted(t.Uses, "use", "uses"), stamp(t.First), stamp(t.Last))
		switch {
		case t.UsesAfterRevocation > 0:
			// Uses that services accepted while the revocation reached
			// them, or that a service ignoring revocations accepted.
			s += fmt.Sprintf("; %s accepted after the revocation at %s, last at %s",
				counted(t.UsesAfterRevocation, "use", "uses"), stamp(t.Revoked), stamp(t.LastAfterRevocation))
		case !t.Revoked.IsZero():
			s += ", revoked " + stamp(t.Revoked)
		}
		impacted = append(impacted, s)
	}

	var rejected []string
	for _, reason := range sortedKeys(r.Impact.Rejected) {
		rejected = append(rejected, fmt.Sprintf("%s (%d)", reason, r.Impact.Rejected[reason]))
	}

	return []summaryItem{
		{"suspicious tokens", orList(bounded(tokens), "none: no anomaly names a token of this subject")},
		{"suspicious networks", orList(bounded(networks), "none")},
		{"exposure", []string{exposure}},
		{"tokens accepted", orList(bounded(impacted), "none from a suspicious network")},
		{"other subjects", orList(bounded(others), "none reached")},
		{"paths requested", orList([]string{counts(r.Impact.Paths, 8)}, "none")},
		{"rejected", orList(rejected, "none")},
	}
}

// networkOwner returns "AS64500 Example Org, NL" for a network, or "".
func networkOwner(n forensics.SuspiciousNetwork) string {
	var parts []string
	if n.ASN != 0 {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("AS%d %s", n.ASN, n.Org)))
	} else if n.Org != "" {
		parts = append(parts, n.Org)
	}
	if n.Country != "" {
		parts = append(parts, n.Country)
	}
	return strings.Join(parts, ", ")
}

// maxSummaryLines bounds each list of the summary, so that a campaign
// across hundreds of tokens leaves the plan on the first screen.
const maxSummaryLines = 10

// bounded cuts list to maxSummaryLines, the last line counting the rest.
func bounded(list []string) []string {
	if len(list) <= maxSummaryLines {
		return list
	}
	rest := len(list) - (maxSummaryLines - 1)
	return append(slices.Clone(list[:maxSummaryLines-1]), fmt.Sprintf("and %d more (the JSON report lists them all)", rest))
}

func orList(list []string, none string) []string {
	var kept []string
	for _, s := range list {
		if s != "" {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return []string{none}
	}
	return kept
}

// timelineRows returns the indexes of the timeline events that the text
// and Markdown reports list, and the index of the first event after the
// cut (-1 for none).
func timelineRows(n int) (rows []int, cut int) {
	if n <= incidentHead+incidentTail {
		rows = make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows, -1
	}
	for i := range incidentHead {
		rows = append(rows, i)
	}
	for i := n - incidentTail; i < n; i++ {
		rows = append(rows, i)
	}
	return rows, n - incidentTail
}

// entryRequest returns the request of an event, why it was rejected, who
// revoked it, or, for an event without a request such as a sign-in, the
// source's name for it, in a few words.
func entryRequest(e forensics.TimelineEntry) string {
	s := strings.TrimSpace(e.Method + " " + e.Path)
	switch {
	case e.RejectReason != "":
		// The reason comes first, so that cutting a long path keeps it.
		s = strings.TrimSpace(string(e.RejectReason) + ": " + s)
	case e.Kind == audit.KindRevoked:
		s = "by " + orNone(e.Actor, "unknown actor")
		if e.Reason != "" {
			s += ": " + e.Reason
		}
	case s == "" && e.Action != "":
		// A failed sign-in before a token was issued is what a responder
		// looks for, so LOGIN_ERROR must not read like any session event.
		s = e.Action
		if e.Reason != "" {
			s += ": " + e.Reason
		}
	}
	return s
}

// entryMarks returns the rules of the anomalies whose evidence holds the
// event, each followed by "(earlier evidence)" unless the event completed
// it.
func entryMarks(e forensics.TimelineEntry) string {
	var rules []string
	for _, m := range e.Anomalies {
		if m.Role == forensics.MarkEarlier {
			rules = append(rules, m.Rule+" (earlier evidence)")
			continue
		}
		rules = append(rules, m.Rule)
	}
	return strings.Join(rules, ", ")
}

// writeIncidentText prints an incident report for a terminal: the
// summary, the plan with one command a line, then the timeline.
func writeIncidentText(w io.Writer, r *forensics.IncidentReport) error {
	p := &printer{w: w}

	p.line("Incident of %s at %s", r.Subject, stamp(r.At))
	p.line("  window       %s to %s", stamp(r.Since), stamp(r.Until))
	p.line("  report time  %s", stamp(r.GeneratedAt))
	for _, n := range r.Notes {
		p.line("  NOTE         %s", n)
	}

	p.section("Summary")
	t := p.table()
	for _, item := range incidentSummary(r) {
		for i, v := range item.values {
			label := ""
			if i == 0 {
				label = item.label
			}
			fmt.Fprintf(t, "  %s\t%s\n", label, printable(v))
		}
	}
	t.Flush()

	p.section(fmt.Sprintf("Plan (%s, most urgent first)", counted(len(r.Plan), "step", "steps")))
	if len(r.Plan) == 0 {
		p.line("  nothing to do: no anomaly implicates a token or network of this subject in the window")
	}
	for _, s := range r.Plan {
		p.line("  %d. %s %s", s.Rank, s.Action, strings.Join(s.Targets, ", "))
		p.line("     why: %s", s.Reason)
		if s.Command != "" {
			// Alone on its line, so that it can be copied and pasted.
			p.line("     %s", s.Command)
		}
		if s.Manual != "" {
			p.line("     manual: %s", s.Manual)
		}
	}

	if len(r.Patterns) > 0 {
		p.section("Patterns")
		for _, pt := range r.Patterns {
			p.line("  %s: %s", pt.Name, pt.Description)
		}
	}

	if len(r.Anomalies) > 0 {
		p.section("Anomalies")
		for _, a := range r.Anomalies {
			p.line("  %s  %-8s %s, token %s: %s", stamp(a.Time), a.Severity, a.Rule, orNone(a.TokenID, "-"), a.Summary)
		}
	}

	p.section(fmt.Sprintf("Timeline (%s)", counted(len(r.Timeline), "event", "events")))
	if r.Truncated {
		p.line("  the analysis found more events than --max-timeline keeps; the notes above say which were kept")
	}
	rows, cut := timelineRows(len(r.Timeline))
	t = p.table()
	fmt.Fprintln(t, "  TIME\tKIND\tTOKEN\tADDRESS\t\tREQUEST\tSTATUS\tANOMALIES")
	for _, i := range rows {
		if i == cut {
			fmt.Fprintf(t, "  ...\t\t\t\t\t%d more events (--format json or html lists them)\t\t\n", len(r.Timeline)-incidentHead-incidentTail)
		}
		e := r.Timeline[i]
		flag := ""
		if e.FromSuspiciousNetwork {
			flag = "SUSPICIOUS"
		}
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		// Token ids are kept whole up to 64 characters, the length of a
		// fingerprint, so that one can be copied into investigate.
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", stamp(e.Time), e.Kind,
			orNone(printable(shorten(e.TokenID, 64)), "-"), orNone(addrString(e.IP.String(), e.IP.IsValid()), "-"), flag,
			orNone(printable(shorten(entryRequest(e), 48)), "-"), orNone(status, "-"), orNone(printable(entryMarks(e)), "-"))
	}
	t.Flush()
	return p.err
}

// writeIncidentMarkdown prints an incident report for a ticket, in the
// order of the text report.
func writeIncidentMarkdown(w io.Writer, r *forensics.IncidentReport) error {
	p := &printer{w: w}

	p.line("# Incident of %s at %s", mdText(r.Subject), stamp(r.At))
	p.line("")
	p.line("Window %s to %s; report time %s.", stamp(r.Since), stamp(r.Until), stamp(r.GeneratedAt))
	for _, n := range r.Notes {
		p.line("")
		p.line("> **Note:** %s", mdText(n))
	}

	p.line("\n## Summary\n")
	for _, item := range incidentSummary(r) {
		if len(item.values) == 1 {
			p.line("- **%s:** %s", item.label, mdText(item.values[0]))
			continue
		}
		p.line("- **%s:**", item.label)
		for _, v := range item.values {
			p.line("  - %s", mdText(v))
		}
	}

	p.line("\n## Plan\n")
	if len(r.Plan) == 0 {
		p.line("Nothing to do: no anomaly implicates a token or network of this subject in the window.")
	}
	for _, s := range r.Plan {
		p.line("%d. **%s** %s  ", s.Rank, mdText(s.Action), mdText(strings.Join(s.Targets, ", ")))
		p.line("   %s", mdText(s.Reason))
		if s.Command != "" {
			fence := mdFence(s.Command)
			p.line("")
			p.line("   %ssh", fence)
			p.line("   %s", s.Command)
			p.line("   %s", fence)
		}
		if s.Manual != "" {
			p.line("")
			p.line("   %s", mdText(s.Manual))
		}
		p.line("")
	}

	if len(r.Patterns) > 0 {
		p.line("## Patterns\n")
		for _, pt := range r.Patterns {
			p.line("- `%s`: %s", pt.Name, mdText(pt.Description))
		}
		p.line("")
	}

	if len(r.Anomalies) > 0 {
		p.line("## Anomalies\n")
		p.line("| time | severity | rule | token | summary |")
		p.line("|---|---|---|---|---|")
		for _, a := range r.Anomalies {
			p.line("| %s | %s | %s | %s | %s |", stamp(a.Time), mdCell(a.Severity.String()), mdCell(a.Rule), mdCell(orNone(a.TokenID, "-")), mdCell(a.Summary))
		}
		p.line("")
	}

	p.line("## Timeline (%s)\n", counted(len(r.Timeline), "event", "events"))
	if r.Truncated {
		p.line("The analysis found more events than it keeps; the notes above say which were kept.\n")
	}
	p.line("| time | kind | token | address | suspicious | request | status | anomalies |")
	p.line("|---|---|---|---|---|---|---|---|")
	rows, cut := timelineRows(len(r.Timeline))
	for _, i := range rows {
		if i == cut {
			p.line("| … | | | | | %d more events (the JSON and HTML reports list them) | | |", len(r.Timeline)-incidentHead-incidentTail)
		}
		e := r.Timeline[i]
		suspicious := ""
		if e.FromSuspiciousNetwork {
			suspicious = "yes"
		}
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		p.line("| %s | %s | %s | %s | %s | %s | %s | %s |", stamp(e.Time), mdCell(e.Kind.String()), mdCell(e.TokenID),
			mdCell(addrString(e.IP.String(), e.IP.IsValid())), suspicious, mdCell(shorten(entryRequest(e), 60)), status, mdCell(entryMarks(e)))
	}
	return p.err
}

// mdText escapes the characters that Markdown would read as formatting or
// HTML in text copied from logs. A word that GitHub Flavored Markdown would
// turn into a link, such as a URL an attacker put in a user agent, goes in
// a code span instead, where nothing becomes a link.
func mdText(s string) string {
	return mdInline(s, false)
}

// mdCell escapes s for a table cell, which must stay on one line.
func mdCell(s string) string {
	return mdInline(strings.NewReplacer("\r", " ", "\n", " ").Replace(s), true)
}

func mdInline(s string, inTable bool) string {
	var b strings.Builder
	for s != "" {
		// An autolink ends at a space, so each word is judged alone.
		word := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) })
		if word < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:word])
		s = s[word:]
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		if linksItself(s[:end]) {
			b.WriteString(mdCode(s[:end], inTable))
		} else {
			for _, r := range s[:end] {
				if strings.ContainsRune("\\`*_{}[]<>#|!~", r) {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		}
		s = s[end:]
	}
	return b.String()
}

// linksItself reports whether a Markdown renderer with extended autolinks,
// as on GitHub and GitLab, would make a link of some of s.
func linksItself(s string) bool {
	lower := strings.ToLower(s)
	return strings.Contains(lower, "://") || strings.Contains(lower, "www.")
}

// mdCode returns s as a code span. Its fence is longer than any run of
// backticks in s, and a space pads a backtick at either end. In a table
// cell a pipe would still end the cell, so it is escaped there, as GitHub
// Flavored Markdown reads "\|" inside a code span.
func mdCode(s string, inTable bool) string {
	fence := strings.Repeat("`", longestBacktickRun(s)+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	if inTable {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	return fence + pad + s + pad + fence
}

// mdFence returns a code fence longer than any run of backticks in s, so
// that s cannot end the block.
func mdFence(s string) string {
	return strings.Repeat("`", max(3, longestBacktickRun(s)+1))
}

func longestBacktickRun(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
