package keycloak

import (
	"encoding/json"
	"fmt"
	"strings"
)

// pairError locates what is wrong in a key=value message.
type pairError struct {
	Offset int    // byte offset in the message (after unescaping, see parsePairs)
	Key    string // the pair's key, empty when the key itself is missing
	Err    error
}

// Error returns the key, the offset and the cause.
func (e *pairError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("at byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("value of %s at byte %d: %v", e.Key, e.Offset, e.Err)
}

// Unwrap returns the cause, one of the errors of this package.
func (e *pairError) Unwrap() error { return e.Err }

// parsePairs reads an event message of the jboss-logging event listener:
// key=value pairs separated by ", ". Each value may be written in one of the
// styles Keycloak has used:
//
//   - unquoted, as up to Keycloak 23 writes the fixed fields (realmId=ABCD TEST);
//     the value runs to the next ", key=";
//   - in single quotes, as up to Keycloak 23 writes a detail that contains a
//     space, with no escaping inside;
//   - in double quotes (or another configured quote character), as Keycloak 24
//     and later writes every value. The quote character inside a value is
//     escaped as \", and nothing else is escaped.
//
// A closing quote is one followed by the end of the message or by ", key=",
// so a stray quote inside an old-style value stays part of it. A message
// whose quotes are all backslash-escaped, as some log shippers store it
// (type=\"LOGOUT\"), is unescaped once before it is read.
//
// A key repeated with the same value is accepted; with another value it is an
// error, because the event would be ambiguous.
func parsePairs(msg string) (map[string]string, error) {
	msg = strings.TrimSpace(msg)
	if hasEscapedQuotes(msg) {
		msg = unescapeMessage(msg)
	}

	pairs := make(map[string]string, 16)
	for pos := 0; pos < len(msg); {
		keyEnd := scanKey(msg, pos)
		if keyEnd == pos || keyEnd == len(msg) || msg[keyEnd] != '=' {
			return nil, &pairError{Offset: pos, Err: errMissingKey}
		}
		key := msg[pos:keyEnd]

		start := keyEnd + 1
		var value string
		var next int
		if start < len(msg) && (msg[start] == '"' || msg[start] == '\'') {
			var err error
			value, next, err = quotedValue(msg, start)
			if err != nil {
				return nil, &pairError{Offset: start, Key: key, Err: err}
			}
		} else {
			value, next = plainValue(msg, start)
		}

		if old, ok := pairs[key]; ok && old != value {
			return nil, &pairError{Offset: pos, Key: key, Err: errDuplicateKey}
		}
		pairs[key] = value
		pos = next
	}
	return pairs, nil
}

// startsWithPair reports whether s begins with a key followed by '='.
func startsWithPair(s string) bool {
	end := scanKey(s, 0)
	return end > 0 && end < len(s) && s[end] == '='
}

// isKeyByte reports whether c may appear in a key. Keycloak's own keys use
// letters, digits and '_'; custom listeners and details add '.' and '-'.
func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

func scanKey(s string, i int) int {
	for i < len(s) && isKeyByte(s[i]) {
		i++
	}
	return i
}

// nextPair returns where the pair after the comma at s[comma] starts, and
// whether a pair (or the end of the message) follows that comma at all.
func nextPair(s string, comma int) (int, bool) {
	i := comma + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return i, true
	}
	return i, startsWithPair(s[i:])
}

// valueEnd reports whether a value may end just before s[i], and returns
// where the next pair starts.
func valueEnd(s string, i int) (int, bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return i, true
	}
	if s[i] != ',' {
		return 0, false
	}
	return nextPair(s, i)
}

// plainValue reads an unquoted value starting at s[start]. It runs to the
// next comma that is followed by another pair, so a value may contain spaces,
// '=' and commas that are not followed by a key.
func plainValue(s string, start int) (value string, next int) {
	for i := start; i < len(s); i++ {
		if s[i] != ',' {
			continue
		}
		if n, ok := nextPair(s, i); ok {
			return strings.TrimRight(s[start:i], " "), n
		}
	}
	return strings.TrimRight(s[start:], " "), len(s)
}

// quotedValue reads the value whose opening quote is s[start].
func quotedValue(s string, start int) (value string, next int, err error) {
	quote := s[start]
	var unescaped []byte // nil until the first escape, so a value without escapes is returned as a substring
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == quote:
			if unescaped == nil {
				unescaped = append(make([]byte, 0, len(s)-start), s[start+1:i]...)
			}
			unescaped = append(unescaped, quote)
			i++
		case c == quote:
			if n, ok := valueEnd(s, i+1); ok {
				if unescaped == nil {
					return s[start+1 : i], n, nil
				}
				return string(unescaped), n, nil
			}
			if unescaped != nil {
				unescaped = append(unescaped, c)
			}
		case unescaped != nil:
			unescaped = append(unescaped, c)
		}
	}

	// Keycloak's sanitizer escapes the quote character but not the
	// backslash, so a value that ends in a backslash is written as "...\"
	// and its closing quote looks escaped. Only when no plain quote closes
	// the value is the first such quote that ends a pair taken instead.
	// Reading \" as an escape first keeps a user-supplied value such as
	// x", token_id="fake inside its pair, where the sanitizer put it.
	for i := start + 1; i+1 < len(s); i++ {
		if s[i] != '\\' || s[i+1] != quote {
			continue
		}
		if n, ok := valueEnd(s, i+2); ok {
			inner := s[start+1 : i+1]
			return strings.ReplaceAll(inner, `\`+string(quote), string(quote)), n, nil
		}
		i++
	}
	return "", 0, errUnterminatedQuote
}

// hasEscapedQuotes reports whether the first value of msg opens with a
// backslash-escaped quote, the sign that the whole message was escaped once
// more by a log shipper.
func hasEscapedQuotes(msg string) bool {
	eq := strings.IndexByte(msg, '=')
	return eq >= 0 && strings.HasPrefix(msg[eq+1:], `\"`)
}

// unescapeMessage undoes one level of JSON string escaping. A message that is
// not a valid JSON string body (a raw quote or a bad escape) gets only \" and
// \\ replaced.
func unescapeMessage(msg string) string {
	var out string
	if err := json.Unmarshal([]byte(`"`+msg+`"`), &out); err == nil {
		return out
	}
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(msg)
}
