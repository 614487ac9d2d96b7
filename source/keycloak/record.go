package keycloak

import (
	"encoding/json"
	"fmt"
	"strings"
)

// eventsLogger is the log category under which Keycloak's jboss-logging
// event listener, and most JSON event listeners, write events.
const eventsLogger = "org.keycloak.events"

// record is one Keycloak event as read from a file, before it is mapped to
// audit events.
type record struct {
	line   int
	raw    string            // the record's text, hashed into event IDs
	fields map[string]string // the event's attributes and details, flat, as Keycloak logs them
	stamp  string            // timestamp text of the log line or JSON log record, "" when none
	millis int64             // the event's own time in Unix milliseconds, 0 when none
}

// get returns a field, with Keycloak's "null" (what it writes for a missing
// value, quoted or not) read as empty.
func (r *record) get(key string) string {
	v := r.fields[key]
	if v == "null" {
		return ""
	}
	return v
}

// logLine is a line of the JBoss/WildFly or Quarkus text log:
// "2021-10-22 21:01:42,548 WARN  [org.keycloak.events] (default task-1) message".
type logLine struct {
	stamp   string // "2021-10-22 21:01:42,548", or "16:30:11,662" without a date
	logger  string
	message string
}

// parseLogLine reads the head of a text log line. It reports false for a
// line that does not start with a timestamp, a level and a [logger].
func parseLogLine(text string) (logLine, bool) {
	open := strings.IndexByte(text, '[')
	if open < 0 {
		return logLine{}, false
	}
	head := strings.Fields(text[:open])
	if len(head) < 2 || !isLevel(head[len(head)-1]) || !isDigit(head[0][0]) {
		return logLine{}, false
	}
	end := strings.IndexByte(text[open:], ']')
	if end < 0 {
		return logLine{}, false
	}

	l := logLine{
		stamp:  strings.Join(head[:len(head)-1], " "),
		logger: text[open+1 : open+end],
	}
	rest := strings.TrimLeft(text[open+end+1:], " ")
	if strings.HasPrefix(rest, "(") {
		rest = afterThread(rest)
	}
	l.message = strings.TrimSpace(rest)
	return l, true
}

// afterThread returns what follows the "(thread name)" at the start of s.
// Thread names contain spaces and may contain parentheses, as in
// "(ServerService Thread Pool -- 64)".
func afterThread(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[i+1:]
			}
		}
	}
	if i := strings.Index(s, ") "); i >= 0 {
		return s[i+2:]
	}
	return s
}

func isLevel(s string) bool {
	switch s {
	case "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE",
		"CONFIG", "FINE", "FINER", "FINEST":
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isStackTrace reports whether a line continues a Java stack trace.
func isStackTrace(trimmed string) bool {
	return strings.HasPrefix(trimmed, "at ") || strings.HasPrefix(trimmed, "Caused by:") ||
		strings.HasPrefix(trimmed, "Suppressed:") ||
		strings.HasPrefix(trimmed, "... ") && strings.HasSuffix(trimmed, " more")
}

// looksLikeJSON reports whether a trimmed line opens a JSON object or array.
// A '[' counts only before '{', '[', ']', '"' or the end of the line, so that
// "[INFO] ..." and "[2021-10-22 ...]" stay text.
func looksLikeJSON(trimmed string) bool {
	if trimmed[0] == '{' {
		return true
	}
	if trimmed[0] != '[' {
		return false
	}
	rest := strings.TrimLeft(trimmed[1:], " \t")
	return rest == "" || strings.ContainsRune("{[]\"", rune(rest[0]))
}

// readMessage reads the event in a message of the events logger: key=value
// pairs, or a JSON object after a listener's configurable marker
// ("JSON_EVENT::{...}"). It returns errNotEvent for any other message.
func readMessage(dec *jsonDecoder, msg string) (fields map[string]string, millis int64, err error) {
	msg = strings.TrimSpace(msg)
	if startsWithPair(msg) {
		fields, err = parsePairs(msg)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid key=value event: %w", err)
		}
		return fields, 0, nil
	}
	if brace := strings.IndexByte(msg, '{'); brace >= 0 {
		obj, err := dec.object(msg[brace:])
		if err != nil {
			return nil, 0, err
		}
		return eventFields(obj)
	}
	return nil, 0, errNotEvent
}

// stringFields are the event fields this package reads as text. In a JSON
// event each must be a string or null; any other type rejects the record.
var stringFields = []string{
	"type", "operationType", "realmId", "realmName", "clientId", "userId", "sessionId",
	"ipAddress", "error", "token_id", "refresh_token_id", "updated_refresh_token_id",
	"scope", "code_id", "authSessionParentId", "resourceType",
}

// eventFields flattens a JSON event into the fields a key=value message
// would carry. It reads Keycloak's EventRepresentation ({"time":<ms>,
// "type":..., "details":{...}}) and the flat objects of JSON event listeners,
// whose details sit beside the fixed fields. Fixed fields win over details of
// the same name. Values other than strings and numbers, such as a listener's
// userGroups array, are left out.
func eventFields(obj map[string]any) (map[string]string, int64, error) {
	details, err := detailsOf(obj)
	if err != nil {
		return nil, 0, err
	}
	for _, key := range stringFields {
		if err := checkString(obj, key, ""); err != nil {
			return nil, 0, err
		}
		if err := checkString(details, key, "details."); err != nil {
			return nil, 0, err
		}
	}
	millis, err := millisOf(obj)
	if err != nil {
		return nil, 0, err
	}

	fields := make(map[string]string, len(obj)+len(details))
	copyText(fields, details)
	copyText(fields, obj)
	return fields, millis, nil
}

func detailsOf(obj map[string]any) (map[string]any, error) {
	switch d := obj["details"].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return d, nil
	default:
		return nil, fmt.Errorf("%w: field details is %s, want an object", errWrongType, jsonKind(d))
	}
}

func checkString(obj map[string]any, key, prefix string) error {
	switch v := obj[key].(type) {
	case nil, string:
		return nil
	default:
		return fmt.Errorf("%w: field %s%s is %s, want a string", errWrongType, prefix, key, jsonKind(v))
	}
}

// millisOf reads the "time" of an EventRepresentation: Unix milliseconds.
func millisOf(obj map[string]any) (int64, error) {
	v, ok := obj["time"]
	if !ok || v == nil {
		return 0, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%w: field time is %s, want a number of Unix milliseconds", errWrongType, jsonKind(v))
	}
	ms, err := n.Int64()
	if err != nil || ms <= 0 {
		return 0, fmt.Errorf("%w: field time is %s, want a positive whole number of Unix milliseconds", errWrongType, shorten(n.String()))
	}
	return ms, nil
}

func copyText(dst map[string]string, src map[string]any) {
	for key, v := range src {
		switch v := v.(type) {
		case string:
			dst[key] = v
		case json.Number:
			dst[key] = v.String()
		}
	}
}

// logRecord is a JSON log record of Keycloak's JSON console (Quarkus
// "timestamp", "loggerName", "message") or of its ECS format ("@timestamp",
// "log.logger", "message").
type logRecord struct {
	stamp   string
	logger  string
	message string
}

// isLogRecord reports whether obj is a JSON log record rather than an event.
func isLogRecord(obj map[string]any) bool {
	if _, ok := obj["message"]; !ok {
		return false
	}
	for _, key := range []string{"loggerName", "log.logger", "log", "timestamp", "@timestamp"} {
		if _, ok := obj[key]; ok {
			return true
		}
	}
	return false
}

// readLogRecord reads the fields of a JSON log record, rejecting a wrong type.
func readLogRecord(obj map[string]any) (logRecord, error) {
	var r logRecord
	var err error
	if r.message, err = textMember(obj, "message"); err != nil {
		return r, err
	}
	if r.stamp, err = textMember(obj, "timestamp", "@timestamp"); err != nil {
		return r, err
	}
	if r.logger, err = textMember(obj, "loggerName", "log.logger"); err != nil {
		return r, err
	}
	if nested, ok := obj["log"].(map[string]any); ok && r.logger == "" {
		// ECS written as nested objects: {"log":{"logger":...}}.
		if r.logger, err = textMember(nested, "logger"); err != nil {
			return r, fmt.Errorf("%w (in field log)", err)
		}
	}
	return r, nil
}

// textMember returns the first of keys present in obj, which must be a
// string or null.
func textMember(obj map[string]any, keys ...string) (string, error) {
	for _, key := range keys {
		v, ok := obj[key]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("%w: field %s is %s, want a string", errWrongType, key, jsonKind(v))
		}
	}
	return "", nil
}
