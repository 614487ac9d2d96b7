package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonl"
)

func TestRulesFileHoldsTheDeployment(t *testing.T) {
	dep := NewDeployment()
	cfg, err := detect.ParseConfig(dep.RulesYAML())
	if err != nil {
		t.Fatalf("ParseConfig(rules.yaml) = %v", err)
	}
	if !reflect.DeepEqual(cfg, dep.DetectConfig()) {
		t.Errorf("rules.yaml reads as %+v, want %+v", cfg, dep.DetectConfig())
	}
	if _, err := detect.New(cfg); err != nil {
		t.Errorf("detect.New(rules.yaml) = %v", err)
	}
}

func TestEnrichFileLoadsTheThreatList(t *testing.T) {
	dir := t.TempDir()
	dep := NewDeployment()
	if err := dep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	// As --enrich reads it: the list's path is relative to the file.
	cfg, err := enrich.ReadConfigFile(filepath.Join(dir, EnrichFile))
	if err != nil {
		t.Fatalf("ReadConfigFile(enrich.yaml) = %v", err)
	}
	en, err := enrich.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("enrich.New(enrich.yaml) = %v", err)
	}
	defer en.Close()
	for _, exit := range torExits {
		if got := en.Lists(exit.addr); len(got) != 1 {
			t.Errorf("Lists(%s) = %q, want the simulated list", exit.addr, got)
		}
	}
	if got := en.Lists(addrAt(staleEntry, 9)); len(got) != 1 {
		t.Errorf("Lists(%s) = %q, want the stale entry's list", addrAt(staleEntry, 9), got)
	}
}

// TestMappingReadsWrittenEvents writes events with EventWriter and imports
// them with MappingYAML, as `tokentrail import --format jsonl` does. The
// import changes four things, and the test checks each. The ID is derived
// from the written one, and the source becomes file:line. The accuracy
// radius is lost, because the mapping has no field for it. Placeholder
// subjects other than "unknown" read as empty.
func TestMappingReadsWrittenEvents(t *testing.T) {
	events, _ := shortRun()
	sample := events[:min(len(events), 20_000)]

	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	for _, e := range sample {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	m, err := jsonl.LoadMapping(bytes.NewReader([]byte(MappingYAML)))
	if err != nil {
		t.Fatalf("LoadMapping(MappingYAML) = %v", err)
	}
	var h collector
	if err := jsonl.Format(m).Parse(context.Background(), source.Input{Reader: &buf, Name: EventsFile}, &h); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if len(h.rejects) > 0 || len(h.skips) > 0 {
		t.Fatalf("Parse rejected %d and skipped %d records; first: %v %v", len(h.rejects), len(h.skips), first(h.rejects), first(h.skips))
	}
	if len(h.events) != len(sample) {
		t.Fatalf("Parse read %d events, want %d", len(h.events), len(sample))
	}

	for i, got := range h.events {
		want := sample[i]
		want.ID = audit.NewID("jsonl", want.ID, want.TokenID, want.Fingerprint, want.SessionID)
		want.Source = EventsFile + ":" + strconv.Itoa(i+1)
		if slices.Contains(placeholders, want.Subject) && want.Subject != "unknown" {
			want.Subject = ""
		}
		if !reflect.DeepEqual(got, want) {
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			t.Fatalf("line %d reads as\n%s\nwant\n%s", i+1, gotJSON, wantJSON)
		}
	}
}

// collector gathers what a Format's Parse reports.
type collector struct {
	events  []audit.Event
	skips   []string
	rejects []*source.RecordError
}

func (c *collector) Event(e audit.Event) error { c.events = append(c.events, e); return nil }
func (c *collector) Skip(line int, reason string) {
	c.skips = append(c.skips, strconv.Itoa(line)+": "+reason)
}
func (c *collector) Reject(err *source.RecordError) { c.rejects = append(c.rejects, err) }
func first[T any](list []T) any {
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

func TestWriteLabelsRoundTrip(t *testing.T) {
	_, res := shortRun()
	path := filepath.Join(t.TempDir(), LabelsFile)
	if err := WriteLabels(path, res.Labels); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []Label
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("labels.json does not decode: %v", err)
	}
	if !reflect.DeepEqual(got, res.Labels) {
		t.Errorf("labels.json decodes to %d labels that differ from the %d written", len(got), len(res.Labels))
	}
}

func TestWriteLabelsWritesEmptyArray(t *testing.T) {
	path := filepath.Join(t.TempDir(), LabelsFile)
	if err := WriteLabels(path, nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "[]\n" {
		t.Errorf("labels.json = %q, want an empty array", data)
	}
}

func TestFamilyOfMatchesEnrich(t *testing.T) {
	en, err := enrich.New(context.Background(), enrich.Config{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()

	agents := slices.Concat(partnerAgents, serviceAgents, guestBrowsers,
		[]string{uaCurl, uaRequests, uaAiohttp, uaGoClient, uaTorBrowser, uaHeadless})
	for _, b := range browsers {
		agents = append(agents, b.before, b.new)
	}
	for _, app := range phoneApps {
		agents = append(agents, app.before, app.new)
	}
	for _, ua := range agents {
		want, _ := en.UserAgent(ua)
		if got := familyOf(ua); got != want {
			t.Errorf("familyOf(%q) = %q, want %q as enrich reads it", ua, got, want)
		}
	}
	for _, b := range browsers {
		_, before := en.UserAgent(b.before)
		_, after := en.UserAgent(b.new)
		if b.family != "Safari" && before == after {
			t.Errorf("%s's update keeps major version %s, want a new one", b.family, before)
		}
	}
}
