package keycloak

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/shareddata"
	"github.com/tokentrail/tokentrail/source"
)

const (
	elasticFile  = "keycloak-events-elastic-integrations-jboss.log"
	samplesFile  = "keycloak-events-datadog-samples.log"
	consoleFile  = "keycloak-events-datadog-kc-json-console.jsonl"
	listenerFile = "keycloak-events-jsonlog-listener-readme.log"
	sekoiaFile   = "keycloak-events-sekoia-kc26-ecs-json.jsonl"
	kcadmFile    = "kcadm-get-events.json"
)

// collector is a source.Handler that keeps what Parse reports.
type collector struct {
	events   []audit.Event
	skips    map[int]string
	rejects  []*source.RecordError
	warnings []string
}

func (c *collector) Warn(message string) {
	c.warnings = append(c.warnings, message)
}

func (c *collector) Event(e audit.Event) error {
	c.events = append(c.events, e)
	return nil
}

func (c *collector) Skip(line int, reason string) {
	if c.skips == nil {
		c.skips = make(map[int]string)
	}
	c.skips[line] = reason
}

func (c *collector) Reject(err *source.RecordError) { c.rejects = append(c.rejects, err) }

// rejectAt returns the reason of the rejection at line, or "" when there is none.
func (c *collector) rejectAt(line int) string {
	for _, r := range c.rejects {
		if r.Line == line {
			return r.Reason
		}
	}
	return ""
}

// parseInput runs the Keycloak format over in and fails tb if Parse fails.
func parseInput(tb testing.TB, opts Options, in source.Input) *collector {
	tb.Helper()
	c := &collector{}
	if err := Format(opts).Parse(context.Background(), in, c); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", in.Name, err)
	}
	return c
}

// parseText parses text as a file named name.
func parseText(tb testing.TB, opts Options, name, text string) *collector {
	tb.Helper()
	return parseInput(tb, opts, source.Input{Reader: strings.NewReader(text), Name: name})
}

// parseFile parses the file at path, named by its base name.
func parseFile(tb testing.TB, opts Options, path string, modTime time.Time) *collector {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	return parseInput(tb, opts, source.Input{Reader: f, Name: filepath.Base(path), ModTime: modTime})
}

// fileLine returns line n (1-based) of the file at path, as Parse reads it.
func fileLine(tb testing.TB, path string, n int) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, source.MaxLineBytes)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			return sc.Text()
		}
	}
	tb.Fatalf("%s has no line %d", path, n)
	return ""
}

func testdata(name string) string { return filepath.Join("testdata", name) }

func mustAddr(tb testing.TB, s string) netip.Addr {
	tb.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func utc(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

// checkEvents compares events field by field, so a failure names the field.
func checkEvents(tb testing.TB, got, want []audit.Event) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
		for f := 0; f < g.NumField(); f++ {
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				tb.Errorf("event %d (%s %s): %s = %#v, want %#v", i, want[i].Kind, want[i].TokenID,
					g.Type().Field(f).Name, g.Field(f).Interface(), w.Field(f).Interface())
			}
		}
	}
}

func TestParseSampleFileTotals(t *testing.T) {
	modTime := time.Date(2019, 11, 5, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		name          string
		path          func(testing.TB) string
		opts          Options
		modTime       time.Time
		events        int
		skipped       int
		rejectedLines []int
	}{
		{name: "elastic jboss", path: fixture(elasticFile), events: 8, skipped: 23},
		// Lines 1 and 3 are session events and line 4 a refresh, all without
		// a time: the samples are message bodies without their log prefix.
		{name: "datadog samples without time", path: fixture(samplesFile), skipped: 1, rejectedLines: []int{1, 3, 4}},
		{name: "datadog json console", path: fixture(consoleFile), events: 2},
		{name: "listener with date", path: fixture(listenerFile), opts: Options{Date: modTime}, events: 4, skipped: 4},
		{name: "listener with mod time", path: fixture(listenerFile), modTime: modTime, events: 4, skipped: 4},
		{name: "listener without date", path: fixture(listenerFile), skipped: 4, rejectedLines: []int{3, 4, 5}},
		{name: "sekoia ecs", path: shared(sekoiaFile), skipped: 6},
		{name: "kcadm pretty array", path: fixture(kcadmFile), events: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseFile(t, tt.opts, tt.path(t), tt.modTime)

			if len(c.events) != tt.events {
				t.Errorf("events = %d, want %d", len(c.events), tt.events)
			}
			if len(c.skips) != tt.skipped {
				t.Errorf("skipped = %d, want %d: %v", len(c.skips), tt.skipped, c.skips)
			}
			var rejectedLines []int
			for _, r := range c.rejects {
				rejectedLines = append(rejectedLines, r.Line)
			}
			if !reflect.DeepEqual(rejectedLines, tt.rejectedLines) {
				t.Errorf("rejected lines = %v, want %v: %v", rejectedLines, tt.rejectedLines, c.rejects)
			}
			for _, e := range c.events {
				if err := e.Validate(); err != nil {
					t.Errorf("event %s of %s: Validate() = %v, want nil", e.ID, e.Source, err)
				}
			}
		})
	}
}

func fixture(name string) func(testing.TB) string {
	return func(testing.TB) string { return testdata(name) }
}

func shared(name string) func(testing.TB) string {
	return func(tb testing.TB) string { return shareddata.File(tb, name) }
}

// TestParseElasticEventsInLocation checks every event of the Elastic
// sample: the failed logins and the logins and logouts that name a session
// become session events, and the login, the code exchange and the logout of
// session bae6e56e share its SessionID, so that a report joins them.
func TestParseElasticEventsInLocation(t *testing.T) {
	path := testdata(elasticFile)
	berlinSummer := time.FixedZone("CEST", 2*60*60)

	c := parseFile(t, Options{Location: berlinSummer}, path, time.Time{})

	session := func(line int, at string) audit.Event {
		return audit.Event{
			ID:     audit.NewID("keycloak", fileLine(t, path, line), "session"),
			Time:   utc(t, at),
			Kind:   audit.KindSession,
			Source: fmt.Sprintf("%s:%d", elasticFile, line),
		}
	}
	wrongPassword := session(10, "2021-10-22T19:20:42.120Z") // 21:20:42,120 at +02:00
	wrongPassword.Action = "LOGIN_ERROR"
	wrongPassword.Issuer = "test"
	wrongPassword.Subject = "cc74404c-de7e-482a-98f7-b271ff3c49be"
	wrongPassword.ClientID = "test"
	wrongPassword.SessionID = "3a76b735-e324-42b1-aa15-7c1f69f22eb8"
	wrongPassword.IP = mustAddr(t, "172.18.0.1")
	wrongPassword.Reason = "invalid_user_credentials"

	unknownUser := session(11, "2021-10-22T19:24:41.076Z")
	unknownUser.Action = "LOGIN_ERROR"
	unknownUser.Issuer = "master"
	// userId=null: Keycloak's way of writing no user.
	unknownUser.ClientID = "security-admin-console"
	unknownUser.SessionID = "f9d4300d-d052-4eb6-9aeb-e8fcf642a21f"
	unknownUser.IP = mustAddr(t, "172.18.0.1")
	unknownUser.Reason = "user_not_found"

	samlFailure := session(13, "2021-10-22T18:58:02.700Z") // out of order in the file
	samlFailure.Action = "LOGIN_ERROR"
	samlFailure.Issuer = "ABCD TEST"
	samlFailure.Subject = "ce637d23-b89c-4fca-9088-1aea1d053e19"
	samlFailure.ClientID = "https://www.example.com/shibboleth"
	samlFailure.SessionID = "cbefe0ca-bc11-48b4-b7fa-f1a59d220980"
	samlFailure.IP = mustAddr(t, "10.2.2.156")
	samlFailure.Reason = "invalid_user_credentials"

	const consoleSession = "bae6e56e-368f-4809-89f3-48cfb6279f5e"
	login := session(14, "2021-10-22T20:11:31.257Z")
	login.Action = "LOGIN"
	login.Issuer = "test"
	login.Subject = "ce637d23-b89c-4fca-9088-1aea1d053e19"
	login.ClientID = "security-admin-console"
	login.SessionID = consoleSession // code_id
	login.IP = mustAddr(t, "10.2.2.156")

	common := audit.Event{
		Time:      utc(t, "2021-10-22T20:11:32.131Z"),
		Kind:      audit.KindIssued,
		Action:    "CODE_TO_TOKEN",
		Issuer:    "test",
		Subject:   "ce637d23-b89c-4fca-9088-1aea1d053e19",
		ClientID:  "security-admin-console",
		SessionID: consoleSession, // code_id: the line has no sessionId
		Scopes:    []string{"openid"},
		IP:        mustAddr(t, "10.2.2.156"),
		Source:    elasticFile + ":15",
	}
	access, refresh := common, common
	access.ID = issuedID("561459c0-75f1-46d4-986d-d1c96d12b513", "access")
	access.TokenID = "561459c0-75f1-46d4-986d-d1c96d12b513"
	refresh.ID = issuedID("07434488-ca99-412a-99a0-c2e47c93d6d1", "refresh")
	refresh.TokenID = "07434488-ca99-412a-99a0-c2e47c93d6d1"

	// A logout without token ids ends the session and revokes no token
	// that it names.
	logout := session(20, "2021-10-22T20:45:12.592Z")
	logout.Action = "LOGOUT"
	logout.Issuer = "test"
	logout.Subject = "ce637d23-b89c-4fca-9088-1aea1d053e19"
	// clientId=null
	logout.SessionID = consoleSession // authSessionParentId
	logout.IP = mustAddr(t, "10.2.2.156")

	quotedLogout := session(30, "2024-07-17T10:05:32.104Z")
	quotedLogout.Action = "LOGOUT"
	quotedLogout.Issuer = "12345678-9abc-def0-1234-56789abcdef0" // no realm name: the realm id
	quotedLogout.Subject = "abcdef12-3456-7890-abcd-ef1234567890"
	quotedLogout.ClientID = "user-console"
	quotedLogout.SessionID = "abcd1234-5678-90ab-cdef-1234567890ab"
	quotedLogout.IP = mustAddr(t, "192.168.1.1")

	checkEvents(t, c.events, []audit.Event{wrongPassword, unknownUser, samlFailure, login, access, refresh, logout, quotedLogout})
}

func TestParseElasticSkipReasons(t *testing.T) {
	c := parseFile(t, Options{}, testdata(elasticFile), time.Time{})

	tests := []struct {
		name string
		line int
		want string
	}{
		{name: "server noise", line: 1, want: "server log line of logger org.keycloak.services"},
		{name: "login error without user or session", line: 9, want: "LOGIN_ERROR event names no token and no session id"},
		{name: "another login error without session", line: 12, want: "LOGIN_ERROR event names no token and no session id"},
		{name: "admin event", line: 16, want: "admin event CREATE USER names no token"},
		{name: "stack trace head", line: 22, want: "server log line of logger com.example.BaseUserProvider"},
		{name: "stack trace first frame", line: 23, want: "stack trace of the log record at line 22"},
		{name: "stack trace last frame", line: 28, want: "stack trace of the log record at line 22"},
		{name: "admin event after the stack trace", line: 29, want: "admin event CREATE GROUP names no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.skips[tt.line]; got != tt.want {
				t.Errorf("skip reason of line %d = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// datadogRefreshLine is the DataDog REFRESH_TOKEN sample behind a Quarkus log
// prefix, which gives it the time the sample lacks.
func datadogRefreshLine(tb testing.TB) string {
	tb.Helper()
	return "2024-05-06 07:08:09,250 DEBUG [org.keycloak.events] (executor-thread-3) " + fileLine(tb, testdata(samplesFile), 4)
}

func TestParseDataDogRefreshLineage(t *testing.T) {
	raw := datadogRefreshLine(t)

	c := parseText(t, Options{}, "kc.log", raw+"\n")

	common := audit.Event{
		Time:      utc(t, "2024-05-06T07:08:09.250Z"),
		Action:    "REFRESH_TOKEN",
		Issuer:    `"master"`, // realmName="\"master\"": the quotes belong to the value
		Subject:   "15745079-6780-4b93-80d9-c0d3480885d3",
		ClientID:  `"security=admin=console,test1"`, // escaped quotes, '=' and ',' inside the value
		SessionID: "a6790922-e7c1-41c3-aade-c3f40d2fcf58",
		Scopes:    []string{"openid", "email", "profile"},
		IP:        mustAddr(t, "10.10.10.10"),
		Source:    "kc.log:1",
	}
	redeemed := common
	redeemed.ID = refreshedID("e27fe0e6-af97-4f2e-acae-743731cafe26", "49532980-d06c-4de0-9e2a-94ccb86e6a0e")
	redeemed.Kind = audit.KindRefreshed
	redeemed.TokenID = "e27fe0e6-af97-4f2e-acae-743731cafe26"
	redeemed.IssuedAt = utc(t, "2024-05-06T06:55:37Z") // age_of_refresh_token 752 s before 07:08:09
	access := common
	access.ID = issuedID("49532980-d06c-4de0-9e2a-94ccb86e6a0e", "access")
	access.Kind = audit.KindIssued
	access.TokenID = "49532980-d06c-4de0-9e2a-94ccb86e6a0e"
	access.ParentTokenID = "e27fe0e6-af97-4f2e-acae-743731cafe26"
	access.ExpiresAt = utc(t, "2024-05-06T07:09:09Z") // access_token_expiration_time 60 s
	rotated := common
	rotated.ID = issuedID("31fd23bf-ce8d-4ba4-8c58-27965fac486c", "refresh")
	rotated.Kind = audit.KindIssued
	rotated.TokenID = "31fd23bf-ce8d-4ba4-8c58-27965fac486c"
	rotated.ParentTokenID = "e27fe0e6-af97-4f2e-acae-743731cafe26"
	checkEvents(t, c.events, []audit.Event{redeemed, access, rotated})
}

func TestParseDataDogSamplesNoTime(t *testing.T) {
	date := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	c := parseFile(t, Options{Location: time.UTC, Date: date}, testdata(samplesFile), date)

	// Line 1 is a failed login and line 3 a login, both of a session, and
	// line 4 a refresh: each would yield events but has no time.
	for _, line := range []int{1, 3, 4} {
		if got := c.rejectAt(line); !strings.HasPrefix(got, "no time in the record; ") {
			t.Errorf("reject reason of line %d = %q, want it to start with %q", line, got, "no time in the record; ")
		}
	}
	if want := "admin event CREATE AUTH_FLOW names no token"; c.skips[2] != want {
		t.Errorf("skip reason of line 2 = %q, want %q", c.skips[2], want)
	}
}

func TestParseDataDogJSONConsoleOffset(t *testing.T) {
	path := testdata(consoleFile)

	c := parseFile(t, Options{Location: time.FixedZone("elsewhere", -7*60*60)}, path, time.Time{})

	common := audit.Event{
		Time:      utc(t, "2024-10-30T11:57:03.414Z"), // 17:27:03.414798073+05:30, cut to the millisecond
		Kind:      audit.KindIssued,
		Action:    "CODE_TO_TOKEN",
		Issuer:    "master",
		Subject:   "15745079-6780-4b93-80d9-c0d3480885d3",
		ClientID:  "security-admin-console",
		SessionID: "25e60089-0911-4332-a7c3-71b17b038be5",
		Scopes:    []string{"openid", "email", "profile"},
		IP:        mustAddr(t, "10.10.10.10"),
		Source:    consoleFile + ":1",
	}
	access, refresh := common, common
	access.ID = issuedID("71eea26a-b9c3-47bf-921b-c90c6cfe1c99", "access")
	access.TokenID = "71eea26a-b9c3-47bf-921b-c90c6cfe1c99"
	refresh.ID = issuedID("d1159936-cb35-4296-8ac2-524aa9af265b", "refresh")
	refresh.TokenID = "d1159936-cb35-4296-8ac2-524aa9af265b"
	checkEvents(t, c.events, []audit.Event{access, refresh})
}

func TestParseListenerWarnsOfAssumedDate(t *testing.T) {
	path := testdata(listenerFile)

	c := parseFile(t, Options{}, path, utc(t, "2020-03-05T16:00:00Z"))

	if len(c.warnings) != 1 {
		t.Fatalf("warnings = %q, want 1", c.warnings)
	}
	for _, want := range []string{"line 3 ", "dated 2020-03-04 from the file's modification time (2020-03-05 16:00:00Z)", "--date YYYY-MM-DD"} {
		if !strings.Contains(c.warnings[0], want) {
			t.Errorf("warning %q does not contain %q", c.warnings[0], want)
		}
	}
}

func TestParseListenerDateOptionNoWarning(t *testing.T) {
	c := parseFile(t, Options{Date: time.Date(2020, 3, 4, 0, 0, 0, 0, time.UTC)}, testdata(listenerFile), utc(t, "2021-01-01T00:00:00Z"))

	if len(c.warnings) != 0 {
		t.Errorf("warnings = %q, want none when the date is given", c.warnings)
	}
}

func TestParseListenerTimeOfDay(t *testing.T) {
	path := testdata(listenerFile)
	minusFive := time.FixedZone("EST", -5*60*60)
	common := audit.Event{
		Kind:      audit.KindIssued,
		Action:    "CODE_TO_TOKEN",
		Issuer:    "master",
		Subject:   "804807dd-c991-4712-8ec1-c6d4ff3f0e73",
		ClientID:  "security-admin-console",
		SessionID: "d1a1cc64-4b31-43e6-a083-cc84d7a45cb3",
		Scopes:    []string{"openid", "profile", "email"},
		IP:        mustAddr(t, "172.17.0.1"),
		Source:    listenerFile + ":5",
	}
	tests := []struct {
		name    string
		opts    Options
		modTime time.Time
		want    time.Time
	}{
		{
			name: "date option",
			opts: Options{Date: time.Date(2020, 3, 4, 0, 0, 0, 0, time.UTC)},
			want: utc(t, "2020-03-04T15:58:08.312Z"),
		},
		{
			name: "date option in location",
			opts: Options{Location: minusFive, Date: time.Date(2020, 3, 4, 0, 0, 0, 0, time.UTC)},
			want: utc(t, "2020-03-04T20:58:08.312Z"),
		},
		{
			name:    "date of mod time in location",
			opts:    Options{Location: minusFive},
			modTime: utc(t, "2020-03-05T02:00:00Z"), // still March 4 at -05:00
			want:    utc(t, "2020-03-04T20:58:08.312Z"),
		},
		{
			name:    "first line later in the day than mod time",
			opts:    Options{Location: time.UTC},
			modTime: utc(t, "2020-03-05T16:00:00Z"), // before line 3's 17:19, so line 3 is from March 4
			want:    utc(t, "2020-03-04T15:58:08.312Z"),
		},
		{
			name:    "date option wins over mod time",
			opts:    Options{Date: time.Date(2020, 3, 4, 0, 0, 0, 0, time.UTC)},
			modTime: utc(t, "2021-01-01T00:00:00Z"),
			want:    utc(t, "2020-03-04T15:58:08.312Z"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseFile(t, tt.opts, path, tt.modTime)

			// The logins of lines 3 and 4 fall on the same day as line 5:
			// line 4 goes back in time by less than 12 hours.
			shift := tt.want.Sub(utc(t, "2020-03-04T15:58:08.312Z"))
			otherLogin := audit.Event{
				ID:        audit.NewID("keycloak", fileLine(t, path, 3), "session"),
				Time:      utc(t, "2020-03-04T17:19:46.209Z").Add(shift),
				Kind:      audit.KindSession,
				Action:    "LOGIN",
				Issuer:    "myrealm",
				Subject:   "10b2f010-6d87-4ece-aecd-61e7fe3bde3b",
				ClientID:  "test.client",
				SessionID: "629888b4-49eb-4659-93da-32fc1ce73abd", // code_id
				IP:        mustAddr(t, "192.168.3.3"),
				Source:    listenerFile + ":3",
			}
			login := audit.Event{
				ID:        audit.NewID("keycloak", fileLine(t, path, 4), "session"),
				Time:      utc(t, "2020-03-04T15:58:08.150Z").Add(shift),
				Kind:      audit.KindSession,
				Action:    "LOGIN",
				Issuer:    "master",
				Subject:   "804807dd-c991-4712-8ec1-c6d4ff3f0e73",
				ClientID:  "security-admin-console",
				SessionID: "d1a1cc64-4b31-43e6-a083-cc84d7a45cb3", // the code_id of the exchange on line 5
				IP:        mustAddr(t, "172.17.0.1"),
				Source:    listenerFile + ":4",
			}
			access, refresh := common, common
			access.Time, refresh.Time = tt.want, tt.want
			access.ID = issuedID("733a2efb-4094-4dc1-90a4-194858ce08b0", "access")
			access.TokenID = "733a2efb-4094-4dc1-90a4-194858ce08b0"
			refresh.ID = issuedID("fe31ebc2-2621-434d-a1e9-300c03b66568", "refresh")
			refresh.TokenID = "fe31ebc2-2621-434d-a1e9-300c03b66568"
			checkEvents(t, c.events, []audit.Event{otherLogin, login, access, refresh})
		})
	}
}

func TestParseListenerWithoutDate(t *testing.T) {
	c := parseFile(t, Options{}, testdata(listenerFile), time.Time{})

	got := c.rejectAt(5)
	for _, want := range []string{"15:58:08,312", "pass the date", "Options.Date"} {
		if !strings.Contains(got, want) {
			t.Errorf("reject reason of line 5 = %q, want it to contain %q", got, want)
		}
	}
	if want := "LOGOUT event carries no token ids and no session id"; c.skips[7] != want {
		t.Errorf("skip reason of line 7 = %q, want %q", c.skips[7], want)
	}
	if want := "admin event CREATE USER names no token"; c.skips[1] != want {
		t.Errorf("skip reason of line 1 = %q, want %q", c.skips[1], want)
	}
}

func TestParseSekoiaSkipReasons(t *testing.T) {
	c := parseFile(t, Options{}, shareddata.File(t, sekoiaFile), time.Time{})

	want := map[int]string{
		1: "CODE_TO_TOKEN_ERROR event names no token and no session id",
		2: "LOGIN_ERROR event names no token and no session id",
		3: "LOGIN event names no token and no session id",
		4: "LOGOUT event carries no token ids and no session id",
		5: "REFRESH_TOKEN event carries no token ids (token_id, refresh_token_id, updated_refresh_token_id) and no session id",
		6: "USER_INFO_REQUEST event carries no token_id and no session id",
	}
	if !reflect.DeepEqual(c.skips, want) {
		t.Errorf("skips = %v, want %v", c.skips, want)
	}
}

// ecsLine is an ECS JSON record in the layout of Keycloak 26, with values
// made up for this test.
const ecsLine = `{"@timestamp":"2025-03-04T05:06:07.890123456Z","event.sequence":77,"log.logger":"org.keycloak.events","log.level":"DEBUG",` +
	`"message":"type=\"USER_INFO_REQUEST\", realmId=\"7d1e2f30-aaaa-4bbb-8ccc-0123456789ab\", realmName=\"shop\", clientId=\"shop-spa\", ` +
	`userId=\"null\", ipAddress=\"::ffff:203.0.113.9\", token_id=\"e4e4e4e4-1111-4222-8333-444455556666\", auth_method=\"validate_access_token\"",` +
	`"process.thread.name":"executor-thread-9","service.name":"Keycloak","service.version":"26.0.0"}`

func TestParseECSNanosecondTimestamp(t *testing.T) {
	c := parseText(t, Options{Location: time.FixedZone("ignored", 3*60*60)}, "ecs.jsonl", ecsLine+"\n")

	want := audit.Event{
		ID:      audit.NewID("keycloak", recordKey(t, ecsLine), "used"),
		Time:    utc(t, "2025-03-04T05:06:07.890Z"),
		Kind:    audit.KindUsed,
		Action:  "USER_INFO_REQUEST",
		TokenID: "e4e4e4e4-1111-4222-8333-444455556666",
		Issuer:  "shop",
		// userId="null" is Keycloak's way of writing no user.
		ClientID: "shop-spa",
		IP:       mustAddr(t, "203.0.113.9"), // an IPv4-mapped address is stored as IPv4
		Source:   "ecs.jsonl:1",
	}
	checkEvents(t, c.events, []audit.Event{want})
}

func TestParseEventRepresentationArray(t *testing.T) {
	path := testdata(kcadmFile)
	// An element's text runs from its '{', which ends line first, to its
	// '}', which starts line last.
	element := func(first, last int) string {
		lines := []string{"{"}
		for n := first + 1; n < last; n++ {
			lines = append(lines, fileLine(t, path, n))
		}
		return strings.Join(append(lines, "}"), "\n")
	}
	errorRaw, logoutRaw := element(37, 48), element(48, 59)

	c := parseFile(t, Options{}, path, time.Time{})

	user := audit.Event{
		Issuer:    "0b6a3c1e-7f7e-4d4c-9a53-2f0d3b7c9e11", // no realm name: the realm id
		Subject:   "4c1f2a9e-5d3b-4e8f-a1c2-7b9d0e6f3a21",
		ClientID:  "orders-web",
		SessionID: "9e8d7c6b-5a49-4838-b7a6-958473625140",
		Scopes:    []string{"openid", "orders:read"},
		IP:        mustAddr(t, "2001:db8::17"),
	}
	codeAccess, codeRefresh := user, user
	codeAccess.Time, codeRefresh.Time = utc(t, "2024-06-10T06:13:20.123Z"), utc(t, "2024-06-10T06:13:20.123Z")
	codeAccess.Kind, codeRefresh.Kind = audit.KindIssued, audit.KindIssued
	codeAccess.Action, codeRefresh.Action = "CODE_TO_TOKEN", "CODE_TO_TOKEN"
	codeAccess.Source, codeRefresh.Source = kcadmFile+":1", kcadmFile+":1"
	codeAccess.ID = issuedID("a0a0a0a0-1111-4222-8333-444455556666", "access")
	codeAccess.TokenID = "a0a0a0a0-1111-4222-8333-444455556666"
	codeRefresh.ID = issuedID("b1b1b1b1-1111-4222-8333-444455556666", "refresh")
	codeRefresh.TokenID = "b1b1b1b1-1111-4222-8333-444455556666"

	redeemed, access, rotated := user, user, user
	for _, e := range []*audit.Event{&redeemed, &access, &rotated} {
		e.Time = utc(t, "2024-06-10T06:13:51.456Z")
		e.Action = "REFRESH_TOKEN"
		e.Source = kcadmFile + ":18"
	}
	redeemed.ID = refreshedID("b1b1b1b1-1111-4222-8333-444455556666", "c2c2c2c2-1111-4222-8333-444455556666")
	redeemed.Kind = audit.KindRefreshed
	redeemed.TokenID = "b1b1b1b1-1111-4222-8333-444455556666"
	redeemed.IssuedAt = utc(t, "2024-06-10T06:13:20Z")
	access.ID = issuedID("c2c2c2c2-1111-4222-8333-444455556666", "access")
	access.Kind = audit.KindIssued
	access.TokenID = "c2c2c2c2-1111-4222-8333-444455556666"
	access.ParentTokenID = "b1b1b1b1-1111-4222-8333-444455556666"
	access.ExpiresAt = utc(t, "2024-06-10T06:18:51Z")
	rotated.ID = issuedID("d3d3d3d3-1111-4222-8333-444455556666", "refresh")
	rotated.Kind = audit.KindIssued
	rotated.TokenID = "d3d3d3d3-1111-4222-8333-444455556666"
	rotated.ParentTokenID = "b1b1b1b1-1111-4222-8333-444455556666"

	rejected := audit.Event{
		ID:           audit.NewID("keycloak", recordKey(t, errorRaw), "rejected"),
		Time:         utc(t, "2024-06-10T06:14:55.789Z"),
		Kind:         audit.KindRejected,
		Action:       "INTROSPECT_TOKEN_ERROR",
		TokenID:      "c2c2c2c2-1111-4222-8333-444455556666",
		Issuer:       "0b6a3c1e-7f7e-4d4c-9a53-2f0d3b7c9e11",
		ClientID:     "orders-api",
		IP:           mustAddr(t, "10.20.30.40"),
		Reason:       "invalid_token",
		RejectReason: audit.RejectInvalidGrant,
		Source:       kcadmFile + ":37",
	}
	// The logout names no token: it ends the session and revokes nothing.
	logout := user
	logout.ID = audit.NewID("keycloak", recordKey(t, logoutRaw), "session")
	logout.Time = utc(t, "2024-06-10T07:13:20.001Z")
	logout.Kind = audit.KindSession
	logout.Action = "LOGOUT"
	logout.Scopes = nil
	logout.Source = kcadmFile + ":48"
	checkEvents(t, c.events, []audit.Event{codeAccess, codeRefresh, redeemed, access, rotated, rejected, logout})
}

func TestParseEventRepresentationLayouts(t *testing.T) {
	clientLogin := `{"time":1718000000123,"type":"CLIENT_LOGIN","realmId":"r1","clientId":"batch","userId":"service-account-batch","ipAddress":"10.0.0.5","details":{"token_id":"t1","grant_type":"client_credentials","scope":"profile"}}`
	tokenRevoke := `{"time":1718000000999,"type":"TOKEN_REVOKE","realmId":"r1","clientId":"batch","userId":"service-account-batch","ipAddress":"10.0.0.5","details":{"token_id":"t1"}}`
	tests := []struct {
		name  string
		text  string
		lines []int // Source line of each event
	}{
		{name: "one object a line", text: clientLogin + "\n" + tokenRevoke + "\n", lines: []int{1, 2}},
		{name: "one-line array", text: "[" + clientLogin + "," + tokenRevoke + "]\n", lines: []int{1, 1}},
		{name: "object a line inside array", text: "[\n" + clientLogin + ",\n" + tokenRevoke + "\n]\n", lines: []int{2, 3}},
		{name: "jq pretty object", text: "{\n  \"time\": 1718000000123,\n  \"type\": \"CLIENT_LOGIN\",\n  \"realmId\": \"r1\",\n  \"details\": {\"token_id\": \"t1\"}\n}\n" + tokenRevoke + "\n", lines: []int{1, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "events.json", tt.text)

			if len(c.rejects) != 0 {
				t.Errorf("rejects = %v, want none", c.rejects)
			}
			if len(c.events) != len(tt.lines) {
				t.Fatalf("events = %d, want %d", len(c.events), len(tt.lines))
			}
			wantKinds := []audit.Kind{audit.KindIssued, audit.KindRevoked}
			for i, e := range c.events {
				if want := source.Location("events.json", tt.lines[i]); e.Source != want {
					t.Errorf("event %d: Source = %q, want %q", i, e.Source, want)
				}
				if e.Kind != wantKinds[i] {
					t.Errorf("event %d: Kind = %v, want %v", i, e.Kind, wantKinds[i])
				}
				if e.TokenID != "t1" {
					t.Errorf("event %d: TokenID = %q, want t1", i, e.TokenID)
				}
			}
			if c.events[1].RevocationMethod != audit.RevokedByAPI || c.events[1].Actor != "service-account-batch" {
				t.Errorf("revoke: RevocationMethod, Actor = %q, %q, want api, service-account-batch",
					c.events[1].RevocationMethod, c.events[1].Actor)
			}
		})
	}
}

// prefix puts a Quarkus log line head before an event message.
const prefix = "2024-02-03 04:05:06,789 DEBUG [org.keycloak.events] (executor-thread-1) "

func TestParseMapping(t *testing.T) {
	type token struct {
		kind   audit.Kind
		id     string
		parent string
	}
	tests := []struct {
		name   string
		msg    string
		tokens []token
		skip   string
		check  func(t *testing.T, events []audit.Event)
	}{
		{
			name:   "client login",
			msg:    `type="CLIENT_LOGIN", realmId="r", clientId="svc", userId="u", ipAddress="10.1.1.1", token_id="a1", grant_type="client_credentials"`,
			tokens: []token{{audit.KindIssued, "a1", ""}},
		},
		{
			name:   "token exchange",
			msg:    `type="TOKEN_EXCHANGE", realmId="r", clientId="svc", userId="u", ipAddress="10.1.1.1", token_id="a2", refresh_token_id="r2"`,
			tokens: []token{{audit.KindIssued, "a2", ""}, {audit.KindIssued, "r2", ""}},
		},
		{
			name:   "unknown type with token id",
			msg:    `type="PERMISSION_TOKEN", realmId="r", clientId="svc", userId="u", ipAddress="10.1.1.1", token_id="a3"`,
			tokens: []token{{audit.KindIssued, "a3", ""}},
		},
		{
			name: "code to token without ids",
			msg:  `type="CODE_TO_TOKEN", realmId="r", clientId="c", userId="u", ipAddress="10.1.1.1"`,
			skip: "CODE_TO_TOKEN event carries no token ids (token_id, refresh_token_id) and no session id",
		},
		{
			name:   "refresh without rotation",
			msg:    `type="REFRESH_TOKEN", realmId="r", clientId="c", userId="u", ipAddress="10.1.1.1", token_id="a4", refresh_token_id="r4", updated_refresh_token_id="r4"`,
			tokens: []token{{audit.KindRefreshed, "r4", ""}, {audit.KindIssued, "a4", "r4"}},
		},
		{
			name:   "refresh error names the refresh token",
			msg:    `type="REFRESH_TOKEN_ERROR", realmId="r", clientId="c", userId="u", ipAddress="10.1.1.1", error="invalid_token", token_id="a5", refresh_token_id="r5"`,
			tokens: []token{{audit.KindRejected, "r5", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if events[0].RejectReason != audit.RejectInvalidGrant || events[0].Reason != "invalid_token" {
					t.Errorf("RejectReason, Reason = %q, %q, want invalid_grant, invalid_token", events[0].RejectReason, events[0].Reason)
				}
			},
		},
		{
			name:   "expired error",
			msg:    `type="INTROSPECT_TOKEN_ERROR", realmId="r", clientId="c", userId="null", ipAddress="10.1.1.1", error="token_expired", token_id="a6"`,
			tokens: []token{{audit.KindRejected, "a6", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if events[0].RejectReason != audit.RejectExpired {
					t.Errorf("RejectReason = %q, want expired", events[0].RejectReason)
				}
				if events[0].Subject != "" {
					t.Errorf("Subject = %q, want empty for userId=\"null\"", events[0].Subject)
				}
			},
		},
		{
			name:   "other error",
			msg:    `type="USER_INFO_REQUEST_ERROR", realmId="r", clientId="c", userId="u", ipAddress="10.1.1.1", error="user_session_not_found", token_id="a7"`,
			tokens: []token{{audit.KindRejected, "a7", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if events[0].RejectReason != audit.RejectOther {
					t.Errorf("RejectReason = %q, want other", events[0].RejectReason)
				}
			},
		},
		{
			name:   "logout with token ids",
			msg:    `type="LOGOUT", realmId="r", clientId="c", userId="u8", sessionId="s8", ipAddress="10.1.1.1", token_id="a8", refresh_token_id="r8"`,
			tokens: []token{{audit.KindRevoked, "a8", ""}, {audit.KindRevoked, "r8", ""}},
			check: func(t *testing.T, events []audit.Event) {
				for _, e := range events {
					if e.RevocationMethod != audit.RevokedByLogout || e.Actor != "u8" {
						t.Errorf("RevocationMethod, Actor = %q, %q, want logout, u8", e.RevocationMethod, e.Actor)
					}
				}
			},
		},
		{
			name: "revoke grant without ids",
			msg:  `type="REVOKE_GRANT", realmId="r", clientId="account-console", userId="u", ipAddress="10.1.1.1"`,
			skip: "REVOKE_GRANT event carries no token ids and no session id",
		},
		{
			name:   "introspection",
			msg:    `type="INTROSPECT_TOKEN", realmId="r", clientId="api", userId="u", ipAddress="10.1.1.1", token_id="a9"`,
			tokens: []token{{audit.KindUsed, "a9", ""}},
		},
		{
			name:   "address that is not an IP",
			msg:    `type=CODE_TO_TOKEN, realmId=r, clientId=c, userId=u, ipAddress=d2f8c0e4-guid-not-ip, token_id=a10`,
			tokens: []token{{audit.KindIssued, "a10", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if events[0].IP.IsValid() {
					t.Errorf("IP = %v, want none", events[0].IP)
				}
			},
		},
		{
			name:   "single-quoted detail of Keycloak 23",
			msg:    `type=CODE_TO_TOKEN, realmId=r, clientId=c, userId=u, ipAddress=10.1.1.1, token_id=a11, scope='openid email', code_id=s11`,
			tokens: []token{{audit.KindIssued, "a11", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if want := []string{"openid", "email"}; !reflect.DeepEqual(events[0].Scopes, want) {
					t.Errorf("Scopes = %q, want %q", events[0].Scopes, want)
				}
				if events[0].SessionID != "s11" {
					t.Errorf("SessionID = %q, want s11", events[0].SessionID)
				}
			},
		},
		{
			name:   "login of a session",
			msg:    `type="LOGIN", realmId="r", realmName="shop", clientId="web", userId="u12", sessionId="s12", ipAddress="10.1.1.1", auth_method="openid-connect", scope="openid", code_id="s12"`,
			tokens: []token{{audit.KindSession, "", ""}},
			check: func(t *testing.T, events []audit.Event) {
				e := events[0]
				if e.SessionID != "s12" || e.Subject != "u12" || e.Issuer != "shop" || e.Reason != "" || e.Scopes != nil {
					t.Errorf("SessionID, Subject, Issuer, Reason, Scopes = %q, %q, %q, %q, %q, want s12, u12, shop, no reason, no scopes",
						e.SessionID, e.Subject, e.Issuer, e.Reason, e.Scopes)
				}
			},
		},
		{
			name:   "failed login of an auth session",
			msg:    `type="LOGIN_ERROR", realmId="r", clientId="web", userId="u13", ipAddress="10.1.1.1", error="invalid_user_credentials", code_id="s13", authSessionParentId="s13"`,
			tokens: []token{{audit.KindSession, "", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if e := events[0]; e.SessionID != "s13" || e.Reason != "invalid_user_credentials" || e.RejectReason != "" {
					t.Errorf("SessionID, Reason, RejectReason = %q, %q, %q, want s13, invalid_user_credentials, none", e.SessionID, e.Reason, e.RejectReason)
				}
			},
		},
		{
			name:   "logout without ids ends its session and revokes nothing",
			msg:    `type="LOGOUT", realmId="r", clientId="web", userId="u14", sessionId="s14", ipAddress="10.1.1.1", redirect_uri="https://app.example.com/"`,
			tokens: []token{{audit.KindSession, "", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if e := events[0]; e.SessionID != "s14" || e.Actor != "" || e.RevocationMethod != "" {
					t.Errorf("SessionID, Actor, RevocationMethod = %q, %q, %q, want s14 and no revocation", e.SessionID, e.Actor, e.RevocationMethod)
				}
			},
		},
		{
			name:   "revoke grant without ids of a session",
			msg:    `type="REVOKE_GRANT", realmId="r", clientId="account-console", userId="u15", sessionId="s15", ipAddress="10.1.1.1"`,
			tokens: []token{{audit.KindSession, "", ""}},
		},
		{
			name:   "refresh without ids of a session",
			msg:    `type="REFRESH_TOKEN", realmId="r", clientId="mobile", userId="u16", sessionId="s16", ipAddress="10.1.1.1"`,
			tokens: []token{{audit.KindSession, "", ""}},
		},
		{
			name:   "code error without ids of an auth session",
			msg:    `type="CODE_TO_TOKEN_ERROR", realmId="r", clientId="web", userId="null", ipAddress="10.1.1.1", error="invalid_code", grant_type="authorization_code", code_id="s17"`,
			tokens: []token{{audit.KindSession, "", ""}},
			check: func(t *testing.T, events []audit.Event) {
				if e := events[0]; e.SessionID != "s17" || e.Reason != "invalid_code" || e.Subject != "" {
					t.Errorf("SessionID, Reason, Subject = %q, %q, %q, want s17, invalid_code, none", e.SessionID, e.Reason, e.Subject)
				}
			},
		},
		{
			name: "login without session",
			msg:  `type="LOGIN", realmId="r", clientId="web", userId="u18", ipAddress="10.1.1.1"`,
			skip: "LOGIN event names no token and no session id",
		},
		{
			name: "json listener admin event",
			msg:  `JSON_EVENT::{"type":"ADMIN_EVENT","operationType":"DELETE","realmId":"r","resourceType":"CLIENT"}`,
			skip: "admin event DELETE CLIENT names no token",
		},
		{
			name: "other message of the events logger",
			msg:  `Event listener jboss-logging registered`,
			skip: "message of org.keycloak.events is neither key=value pairs nor a JSON event",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "kc.log", prefix+tt.msg+"\n")

			if len(c.rejects) != 0 {
				t.Fatalf("rejects = %v, want none", c.rejects)
			}
			if c.skips[1] != tt.skip {
				t.Errorf("skip reason = %q, want %q", c.skips[1], tt.skip)
			}
			if len(c.events) != len(tt.tokens) {
				t.Fatalf("events = %+v, want %d", c.events, len(tt.tokens))
			}
			ids := make(map[string]bool)
			for i, want := range tt.tokens {
				e := c.events[i]
				if e.Kind != want.kind || e.TokenID != want.id || e.ParentTokenID != want.parent {
					t.Errorf("event %d: Kind, TokenID, ParentTokenID = %v, %q, %q, want %v, %q, %q",
						i, e.Kind, e.TokenID, e.ParentTokenID, want.kind, want.id, want.parent)
				}
				if want := eventType(tt.msg); e.Action != want {
					t.Errorf("event %d: Action = %q, want %q", i, e.Action, want)
				}
				if ids[e.ID] {
					t.Errorf("event %d: ID %s repeats an earlier event's of the same record", i, e.ID)
				}
				ids[e.ID] = true
			}
			if tt.check != nil && len(c.events) > 0 {
				tt.check(t, c.events)
			}
		})
	}
}

// eventType returns the type of a key=value message: the value of its first
// pair, type=, without quotes.
func eventType(msg string) string {
	value, _, _ := strings.Cut(strings.TrimPrefix(msg, "type="), ",")
	return strings.Trim(value, `"`)
}

func TestParseBadInput(t *testing.T) {
	good := prefix + `type="CLIENT_LOGIN", realmId="r", clientId="svc", userId="u", ipAddress="10.1.1.1", token_id="ok"`
	tests := []struct {
		name string
		bad  string
		want []string // parts of the reject reason
	}{
		{name: "truncated json line", bad: `{"time":1718000000123,"type":"CLIENT_LOGIN","realmId":"r","details":{"token_id":"t`, want: []string{"JSON value starting at line 1", "truncated"}},
		{name: "truncated after a value", bad: `{"time":1718000000123,"type":"CLIENT_LOGIN"`, want: []string{"JSON value starting at line 1 ends before it is closed"}},
		{name: "json syntax", bad: `{"time":1718000000123,"type" "CLIENT_LOGIN"}`, want: []string{"invalid JSON at byte"}},
		{name: "json text after value", bad: `{"type":"CLIENT_LOGIN"} trailing`, want: []string{"unexpected text after the JSON value"}},
		{name: "time as string", bad: `{"time":"yesterday","type":"CLIENT_LOGIN","details":{"token_id":"t"}}`, want: []string{"field time is a string, want a number of Unix milliseconds"}},
		{name: "time as fraction", bad: `{"time":1.5,"type":"CLIENT_LOGIN","details":{"token_id":"t"}}`, want: []string{"field time is 1.5"}},
		{name: "type as array", bad: `{"time":1718000000123,"type":["CLIENT_LOGIN"]}`, want: []string{"field type is an array, want a string"}},
		{name: "details as string", bad: `{"time":1718000000123,"type":"CLIENT_LOGIN","details":"token_id=t"}`, want: []string{"field details is a string, want an object"}},
		{name: "token id as number", bad: `{"time":1718000000123,"type":"CLIENT_LOGIN","details":{"token_id":7}}`, want: []string{"field details.token_id is a number, want a string"}},
		{name: "message as number", bad: `{"timestamp":"2024-10-30T17:27:03+05:30","loggerName":"org.keycloak.events","message":42}`, want: []string{"field message is a number, want a string"}},
		{name: "array element not object", bad: `["CLIENT_LOGIN"]`, want: []string{"the JSON value is a string, want an object"}},
		{name: "unparseable timestamp", bad: `2024-13-45 04:05:06,789 DEBUG [org.keycloak.events] (t) type=CLIENT_LOGIN, realmId=r, token_id=t`, want: []string{`invalid timestamp "2024-13-45 04:05:06,789"`}},
		{name: "message without time", bad: `type="CLIENT_LOGIN", realmId="r", clientId="svc", token_id="t"`, want: []string{"no time in the record; "}},
		{name: "json console without timestamp", bad: `{"loggerName":"org.keycloak.events","message":"type=\"CLIENT_LOGIN\", token_id=\"t\""}`, want: []string{"no time in the record; "}},
		{name: "unterminated quote", bad: prefix + `type="CLIENT_LOGIN", realmId="r, token_id="t`, want: []string{"invalid key=value event: value of realmId at byte 29: quoted value is not closed"}},
		{name: "duplicate key", bad: prefix + `type=CLIENT_LOGIN, token_id=a, token_id=b`, want: []string{"value of token_id", "appears twice"}},
		{name: "no type", bad: prefix + `realmId="r", token_id="t"`, want: []string{"the event has no type"}},
		{name: "invalid utf-8", bad: prefix + "type=CLIENT_LOGIN, realmId=r\xff\xfe, token_id=t", want: []string{"not valid UTF-8 (first invalid byte at column 101)"}},
		{name: "time out of range", bad: `{"time":253402300800000,"type":"CLIENT_LOGIN","details":{"token_id":"t"}}`, want: []string{"the issued event of token t is invalid: field Time is outside the years"}},
		{name: "session time out of range", bad: `{"time":253402300800000,"type":"LOGIN","sessionId":"s1"}`, want: []string{"the session event of session s1 is invalid: field Time is outside the years"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "bad.log", tt.bad+"\n"+good+"\n")

			if len(c.rejects) != 1 {
				t.Fatalf("rejects = %v, want one", c.rejects)
			}
			r := c.rejects[0]
			if r.File != "bad.log" || r.Line != 1 {
				t.Errorf("reject at %s:%d, want bad.log:1", r.File, r.Line)
			}
			for _, part := range tt.want {
				if !strings.Contains(r.Reason, part) {
					t.Errorf("reject reason = %q, want it to contain %q", r.Reason, part)
				}
			}
			if len(c.events) != 1 || c.events[0].Source != "bad.log:2" {
				t.Errorf("events = %+v, want the one of line 2: the rest of the input is still read", c.events)
			}
		})
	}
}

func TestParseOverLongLine(t *testing.T) {
	long := prefix + `type=CLIENT_LOGIN, token_id=t, clientId=` + strings.Repeat("x", source.MaxLineBytes)
	good := prefix + `type=CLIENT_LOGIN, token_id=ok`

	c := parseText(t, Options{}, "long.log", long+"\n"+good+"\n")

	if len(c.rejects) != 1 || c.rejects[0].Line != 1 || !strings.Contains(c.rejects[0].Reason, "line too long") {
		t.Errorf("rejects = %v, want one at line 1 for its length", c.rejects)
	}
	if len(c.events) != 1 || c.events[0].TokenID != "ok" {
		t.Errorf("events = %+v, want the one of line 2", c.events)
	}
}

func TestParseBrokenJSONBlocks(t *testing.T) {
	next := `{"time":1718000000999,"type":"TOKEN_REVOKE","realmId":"r","userId":"u","details":{"token_id":"t9"}}`
	tests := []struct {
		name        string
		text        string
		rejectLines []int
		want        []string // parts of the reject reasons, in order
		eventLines  []int
	}{
		{
			name:        "cut element then a new record",
			text:        "[ {\n  \"time\" : 1718000000123,\n  \"type\" : \"CLIENT_LOGIN\"\n" + next + "\n",
			rejectLines: []int{1},
			want:        []string{"JSON value starting at line 1 is not closed before line 4"},
			eventLines:  []int{4},
		},
		{
			name:        "cut after a comma then a log line",
			text:        "{\n  \"time\" : 1718000000123,\n" + prefix + "type=CLIENT_LOGIN, token_id=t3\n",
			rejectLines: []int{1},
			want:        []string{"JSON value starting at line 1 is not closed before line 3"},
			eventLines:  []int{3},
		},
		{
			name:        "opened object then a log line",
			text:        "[ {\n" + prefix + "type=CLIENT_LOGIN, token_id=t3\n",
			rejectLines: []int{1},
			want:        []string{"JSON value starting at line 1 is not closed before line 2"},
			eventLines:  []int{2},
		},
		{
			name:        "string cut at the end of a line",
			text:        "[ {\n  \"type\" : \"CLIENT_LO\n" + next + "\n",
			rejectLines: []int{1},
			want:        []string{"ends inside a string at the end of line 2"},
			eventLines:  []int{3},
		},
		{
			name:        "array open at the end of the file",
			text:        "[ " + next + ",\n",
			rejectLines: []int{1},
			want:        []string{"JSON array starting at line 1 is not closed at the end of the file"},
			eventLines:  []int{1},
		},
		{
			name:        "element cut by invalid utf-8",
			text:        "[ {\n  \"type\" : \"CLIENT_LOGIN\",\n  \"x\" : \"\xff\"\n} ]\n" + next + "\n",
			rejectLines: []int{1, 3},
			want:        []string{"JSON value starting at line 1 is cut by line 3", "not valid UTF-8"},
			eventLines:  []int{5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "broken.json", tt.text)

			if len(c.rejects) != len(tt.rejectLines) {
				t.Fatalf("rejects = %v, want %d", c.rejects, len(tt.rejectLines))
			}
			for i, r := range c.rejects {
				if r.Line != tt.rejectLines[i] || !strings.Contains(r.Reason, tt.want[i]) {
					t.Errorf("reject %d = line %d %q, want line %d containing %q", i, r.Line, r.Reason, tt.rejectLines[i], tt.want[i])
				}
			}
			var lines []int
			for _, e := range c.events {
				lines = append(lines, sourceLine(t, e.Source))
			}
			if !reflect.DeepEqual(lines, tt.eventLines) {
				t.Errorf("event lines = %v, want %v", lines, tt.eventLines)
			}
		})
	}
}

func TestParseEmptyArrayAndBlankLines(t *testing.T) {
	c := parseText(t, Options{}, "empty.json", "[ ]\n\n   \n")

	want := map[int]string{1: "empty JSON array", 2: "blank line", 3: "blank line"}
	if !reflect.DeepEqual(c.skips, want) {
		t.Errorf("skips = %v, want %v", c.skips, want)
	}
}

func TestParseTimestampForms(t *testing.T) {
	tests := []struct {
		name  string
		stamp string
		opts  Options
		want  string
	}{
		{name: "jboss comma millis", stamp: "2021-10-22 21:01:42,548", want: "2021-10-22T21:01:42.548Z"},
		{name: "point millis in location", stamp: "2021-10-22 21:01:42.548", opts: Options{Location: time.FixedZone("", 3600)}, want: "2021-10-22T20:01:42.548Z"},
		{name: "no fraction", stamp: "2021-10-22 21:01:42", want: "2021-10-22T21:01:42Z"},
		{name: "rfc 3339 zulu micros", stamp: "2021-10-22T21:01:42.548999Z", want: "2021-10-22T21:01:42.548Z"},
		{name: "offset without colon", stamp: "2021-10-22T21:01:42.548+0200", want: "2021-10-22T19:01:42.548Z"},
		{name: "time of day", stamp: "21:01:42,548", opts: Options{Date: time.Date(2021, 10, 22, 13, 0, 0, 0, time.UTC)}, want: "2021-10-22T21:01:42.548Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.stamp + " INFO  [org.keycloak.events] (default task-1) type=CLIENT_LOGIN, token_id=t\n"

			c := parseText(t, tt.opts, "times.log", line)

			if len(c.events) != 1 {
				t.Fatalf("events = %d (rejects %v), want 1", len(c.events), c.rejects)
			}
			if want := utc(t, tt.want); !c.events[0].Time.Equal(want) || c.events[0].Time.Location() != time.UTC {
				t.Errorf("Time of %q = %v, want %v in UTC", tt.stamp, c.events[0].Time, want)
			}
		})
	}
}

func TestParseStableIDs(t *testing.T) {
	first := parseFile(t, Options{}, testdata(kcadmFile), time.Time{})
	second := parseFile(t, Options{}, testdata(kcadmFile), time.Time{})

	seen := make(map[string]bool)
	for i, e := range first.events {
		if e.ID != second.events[i].ID {
			t.Errorf("event %d: ID = %s on the second import, want %s", i, second.events[i].ID, e.ID)
		}
		if seen[e.ID] {
			t.Errorf("event %d: ID %s is not unique in the file", i, e.ID)
		}
		seen[e.ID] = true
	}
}

func TestParseStops(t *testing.T) {
	text := prefix + "type=CLIENT_LOGIN, token_id=a\n" + prefix + "type=CLIENT_LOGIN, token_id=b\n"
	errHandler := errors.New("store is full")
	errRead := errors.New("disk gone")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		in      source.Input
		h       source.Handler
		want    error
		wantMsg string
	}{
		{name: "handler error", ctx: context.Background(), in: source.Input{Reader: strings.NewReader(text), Name: "a.log"}, h: failingHandler{errHandler}, want: errHandler},
		{name: "context ended", ctx: canceled, in: source.Input{Reader: strings.NewReader(text), Name: "a.log"}, h: &collector{}, want: context.Canceled},
		{name: "reader failed", ctx: context.Background(), in: source.Input{Reader: failingReader{errRead}, Name: "a.log"}, h: &collector{}, want: errRead, wantMsg: "keycloak: read a.log: disk gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Format(Options{}).Parse(tt.ctx, tt.in, tt.h)

			if !errors.Is(err, tt.want) {
				t.Errorf("Parse() = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && (err == nil || err.Error() != tt.wantMsg) {
				t.Errorf("Parse() = %v, want %q", err, tt.wantMsg)
			}
		})
	}
}

type failingHandler struct{ err error }

func (h failingHandler) Event(audit.Event) error    { return h.err }
func (h failingHandler) Skip(int, string)           {}
func (h failingHandler) Reject(*source.RecordError) {}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestDetect(t *testing.T) {
	format := Format(Options{})
	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{name: "jboss line", sample: "2021-10-22 21:01:42,548 INFO  [org.keycloak.events] (t) type=LOGIN", want: true},
		{name: "json console", sample: `{"timestamp":"x","loggerName":"org.keycloak.events","message":"type=LOGIN"}`, want: true},
		{name: "ecs", sample: `{"@timestamp":"x","log.logger":"org.keycloak.events","message":"type=LOGIN"}`, want: true},
		{name: "message only", sample: "\n  type=\"LOGIN\", realmId=\"r\"\n", want: true},
		{name: "admin message only", sample: "operationType=\"CREATE\", realmId=\"r\"", want: true},
		{name: "kcadm pretty", sample: "[ {\n  \"time\" : 1,\n  \"type\" : \"LOGIN\",\n  \"realmId\" : \"r\"", want: true},
		{name: "cut inside a line", sample: "2021-10-22 21:01:42,548 INFO  [org.keycloak.events] (t) type=LO", want: true},
		{name: "other server log", sample: "2021-10-22 21:01:42,548 INFO  [org.jboss.as] (t) WFLYSRV0025: started", want: false},
		{name: "okta-like json", sample: `{"uuid":"x","eventType":"user.session.start","published":"2024-01-01T00:00:00Z"}`, want: false},
		{name: "auth0-like json", sample: `{"log_id":"x","data":{"type":"s","date":"2024-01-01T00:00:00Z"}}`, want: false},
		{name: "empty", sample: "", want: false},
		{name: "document quoting a log line", sample: "# Notes\n\n    2021-10-22 21:01:42,548 INFO  [org.keycloak.events] (t) type=LOGIN\n", want: false},
		{name: "prose mentioning the logger", sample: "The logger org.keycloak.events writes \"org.keycloak.events\" events.", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := format.Detect([]byte(tt.sample)); got != tt.want {
				t.Errorf("Detect(%q) = %v, want %v", tt.sample, got, tt.want)
			}
		})
	}
}

func TestDetectSampleFiles(t *testing.T) {
	format := Format(Options{})
	dir := shareddata.Dir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > 64<<10 {
				data = data[:64<<10]
			}
			want := strings.HasPrefix(name, "keycloak-")
			if got := format.Detect(data); got != want {
				t.Errorf("Detect(%s) = %v, want %v", name, got, want)
			}
		})
	}
}

func TestFormatName(t *testing.T) {
	if got := Format(Options{}).Name; got != "keycloak" {
		t.Errorf("Format().Name = %q, want keycloak", got)
	}
}

// sourceLine returns the line number of an event's "file:line" Source.
func sourceLine(tb testing.TB, src string) int {
	tb.Helper()
	colon := strings.LastIndexByte(src, ':')
	n, err := strconv.Atoi(src[colon+1:])
	if colon < 0 || err != nil {
		tb.Fatalf("Source %q is not file:line", src)
	}
	return n
}

func TestTimeOfDayPassesMidnight(t *testing.T) {
	const line = `%s INFO  [org.keycloak.events] (t) JSON_EVENT::{"type":"CLIENT_LOGIN","realmId":"r","clientId":"svc","details":{"token_id":"%s"}}`
	text := fmt.Sprintf(line, "23:59:58,100", "a") + "\n" +
		fmt.Sprintf(line, "23:59:57,900", "b") + "\n" + // a little out of order: same day
		fmt.Sprintf(line, "00:00:02,000", "c") + "\n"
	c := parseText(t, Options{Date: time.Date(2025, 5, 5, 0, 0, 0, 0, time.UTC)}, "mid.log", text)

	want := []string{"2025-05-05T23:59:58.1Z", "2025-05-05T23:59:57.9Z", "2025-05-06T00:00:02Z"}
	if len(c.events) != len(want) {
		t.Fatalf("events = %d, want %d (rejects %v)", len(c.events), len(want), c.rejects)
	}
	for i, w := range want {
		if got := c.events[i].Time.Format(time.RFC3339Nano); got != w {
			t.Errorf("event %d time = %s, want %s", i+1, got, w)
		}
	}
}

// TestJSONRecordIDsIgnoreLayout reads one JSON console record as written,
// re-serialised with other spacing, and pretty-printed inside an array: an
// overlapping export in another layout must add no duplicates.
func TestJSONRecordIDsIgnoreLayout(t *testing.T) {
	raw := fileLine(t, testdata("keycloak-events-datadog-kc-json-console.jsonl"), 1)
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		t.Fatal(err)
	}
	spaced, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	layouts := map[string]string{
		"spaced":             strings.ReplaceAll(raw, `":`, `": `) + "\n",
		"pretty in an array": "[\n" + string(spaced) + "\n]\n",
	}
	want := eventIDs(parseText(t, Options{}, "compact.jsonl", raw+"\n").events)
	if len(want) != 2 {
		t.Fatalf("compact record gave %d events, want 2", len(want))
	}

	for name, text := range layouts {
		got := eventIDs(parseText(t, Options{}, "other.json", text).events)
		if !slices.Equal(got, want) {
			t.Errorf("%s: event IDs = %v, want those of the compact record %v", name, got, want)
		}
	}
}

func eventIDs(events []audit.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// TestServerLogAndEventStoreShareIDs reads one token exchange as the server
// log wrote it and as the admin API's event store returns it: an issuance
// is named by its token id, so importing both adds the tokens once.
func TestServerLogAndEventStoreShareIDs(t *testing.T) {
	// 1718000000123 ms is 2024-06-10 06:13:20.123 UTC; the log line is 2 ms later.
	line := `2024-06-10 06:13:20,125 DEBUG [org.keycloak.events] (executor-thread-3) type="CODE_TO_TOKEN", ` +
		`realmId="0b6a3c1e-7f7e-4d4c-9a53-2f0d3b7c9e11", clientId="orders-web", userId="4c1f2a9e-5d3b-4e8f-a1c2-7b9d0e6f3a21", ` +
		`sessionId="9e8d7c6b-5a49-4838-b7a6-958473625140", ipAddress="2001:db8::17", token_id="a0a0a0a0-1111-4222-8333-444455556666", ` +
		`grant_type="authorization_code", refresh_token_type="Refresh", scope="openid orders:read", ` +
		`refresh_token_id="b1b1b1b1-1111-4222-8333-444455556666", code_id="9e8d7c6b-5a49-4838-b7a6-958473625140"`
	fromLog := parseText(t, Options{}, "server.log", line+"\n").events
	fromStore := parseFile(t, Options{}, testdata("kcadm-get-events.json"), time.Time{}).events

	if len(fromLog) != 2 {
		t.Fatalf("server log line gave %d events, want 2", len(fromLog))
	}
	for _, e := range fromLog {
		i := slices.IndexFunc(fromStore, func(s audit.Event) bool { return s.TokenID == e.TokenID && s.Kind == e.Kind })
		if i < 0 {
			t.Errorf("event store has no %s event of %s", e.Kind, e.TokenID)
			continue
		}
		if fromStore[i].ID != e.ID {
			t.Errorf("%s %s: ID %s from the server log, %s from the event store, want one", e.Kind, e.TokenID, e.ID, fromStore[i].ID)
		}
	}
}
