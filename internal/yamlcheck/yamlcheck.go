// Package yamlcheck checks a YAML config file against the Go struct it
// decodes into, before it is decoded, so that every fault is reported with
// its line, the dotted path of its field and what to write instead. The
// decoder of go.yaml.in/yaml/v3 reports unknown keys and type mismatches
// with Go type names ("field x not found in type detect.Rules", "cannot
// unmarshal !!int `60` into time.Duration") and some parse errors with no
// position at all.
package yamlcheck

import (
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is a fault of a YAML config file at a position.
type Error struct {
	Line   int    // from 1; 0 when the YAML parser gave no line
	Field  string // the dotted path, such as "rules.rapid_ip_change.window", or "" for the document
	Reason string // what is wrong, and what to write instead
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0 && e.Field == "":
		return e.Reason
	case e.Line == 0:
		return e.Field + ": " + e.Reason
	case e.Field == "":
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// Lines maps the dotted path of each field set in a file, such as
// "rules.rapid_ip_change.window" or "trusted_networks[1]", to its line.
type Lines map[string]int

// Hints gives, for a type whose values are text, what to write, such as
// "write low, medium, high or critical" for a severity.
type Hints map[reflect.Type]string

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	addrType     = reflect.TypeFor[netip.Addr]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Check parses data as YAML and checks it against the struct type t, whose
// fields are named by their yaml tags (",inline" structs included, "-"
// fields left out). It returns the line of every field set. The first
// fault is returned as an *Error: invalid YAML, an unknown key (with the
// valid keys at its level), a list or mapping where a value belongs, or a
// value that does not decode into its field's type (with the form to
// write). Check does not decode: the caller does, once Check returns no
// error.
func Check(data []byte, t reflect.Type, hints Hints) (Lines, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(err)
	}
	lines := Lines{}
	if len(doc.Content) == 0 {
		return lines, nil // an empty file
	}
	c := checker{lines: lines, hints: hints}
	if err := c.walk(doc.Content[0], t, ""); err != nil {
		return nil, err
	}
	return lines, nil
}

type checker struct {
	lines Lines
	hints Hints
}

func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value keeps the default
	}
	if isLeaf(t) {
		return c.leaf(n, t, path)
	}

	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return &Error{Line: n.Line, Field: orDocument(path), Reason: fmt.Sprintf("want a mapping of keys (%s), not %s", strings.Join(keysOf(t), ", "), describe(n))}
		}
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			f, ok := fields[key.Value]
			name := join(path, key.Value)
			if !ok {
				return &Error{Line: key.Line, Field: name, Reason: unknownKey(key.Value, keysOf(t))}
			}
			c.lines[name] = key.Line
			if err := c.walk(value, f, name); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return &Error{Line: n.Line, Field: path, Reason: fmt.Sprintf("want a list, such as [a, b] or one \"- item\" per line, not %s", describe(n))}
		}
		for i, item := range n.Content {
			name := fmt.Sprintf("%s[%d]", path, i)
			c.lines[name] = item.Line
			if err := c.walk(item, t.Elem(), name); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		return c.walk(n, t.Elem(), path)
	}
	return nil // interfaces and other kinds are set in code, not in YAML
}

// isLeaf reports whether t takes one scalar: a type that decodes itself
// from text, or a basic kind.
func isLeaf(t reflect.Type) bool {
	if t == durationType || reflect.PointerTo(t).Implements(textType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return false
	}
	return true
}

// leaf checks that n is a scalar that decodes into t.
func (c *checker) leaf(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.ScalarNode {
		return &Error{Line: n.Line, Field: path, Reason: fmt.Sprintf("want one value (%s), not %s", c.form(t), describe(n))}
	}
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	return &Error{Line: n.Line, Field: path, Reason: c.valueReason(n.Value, t, err)}
}

// valueReason returns why value does not decode into t, and what to write.
func (c *checker) valueReason(value string, t reflect.Type, err error) string {
	if hint, ok := c.hints[t]; ok {
		return fmt.Sprintf("%q is not valid; %s", value, hint)
	}
	switch t {
	case durationType:
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return fmt.Sprintf("%s has no unit; write %ss for seconds, or a duration such as 10m or 24h", value, value)
		}
	case prefixType:
		if addr, err := netip.ParseAddr(value); err == nil {
			return fmt.Sprintf("%s is one address, not an address range; write %s/%d for that address alone, or a range such as 198.51.100.0/24", value, addr.WithZone(""), addr.BitLen())
		}
	}
	if reflect.PointerTo(t).Implements(textType) && t != timeType && t != prefixType && t != addrType {
		// The error of a type that checks its own text is the most precise.
		return fmt.Sprintf("%s; %s", strings.TrimPrefix(err.Error(), "invalid value: "), c.form(t))
	}
	return fmt.Sprintf("%q is not %s; %s", value, noun(t), c.form(t))
}

// form returns what to write for a value of t.
func (c *checker) form(t reflect.Type) string {
	if hint, ok := c.hints[t]; ok {
		return hint
	}
	switch t {
	case durationType:
		return "write a duration with a unit, such as 90s, 10m or 24h"
	case timeType:
		return "write an RFC 3339 time, such as 2026-11-20T10:00:00Z"
	case prefixType:
		return "write an address range such as 198.51.100.0/24, or 198.51.100.7/32 for one address"
	case addrType:
		return "write an IPv4 or IPv6 address, such as 198.51.100.7"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "write true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "write a whole number, such as 20"
	case reflect.Float32, reflect.Float64:
		return "write a number, such as 900 or 2.5"
	case reflect.String:
		return "write text, quoted if it starts with a special character"
	}
	return "write a single value"
}

// noun names the kind of value t takes, with its article.
func noun(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration"
	case timeType:
		return "a time"
	case prefixType:
		return "an address range"
	case addrType:
		return "an address"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a valid value"
}

// describe names the kind of node n for a message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "this value"
}

// fieldsOf returns the fields of the struct t by YAML key, with the fields
// of ",inline" structs merged in.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue // the decoder reads embedded structs even when unexported
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			for k, v := range fieldsOf(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// keysOf returns the YAML keys of the struct t, sorted.
func keysOf(t reflect.Type) []string {
	var keys []string
	for k := range fieldsOf(t) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// unknownKey returns that key is not one of valid, suggesting the closest
// valid key when it is one or two edits away.
func unknownKey(key string, valid []string) string {
	reason := "unknown key"
	best, bestDistance := "", 3
	for _, v := range valid {
		if d := editDistance(key, v); d < bestDistance {
			best, bestDistance = v, d
		}
	}
	if best != "" {
		reason += fmt.Sprintf(" (did you mean %s?)", best)
	}
	return reason + "; the keys here are " + strings.Join(valid, ", ")
}

// editDistance returns the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orDocument(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

// yamlLine finds the line in a message of the YAML parser, such as
// "yaml: line 3: did not find expected key".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns an error of the YAML parser into an *Error.
func syntaxError(err error) error {
	msg := err.Error()
	e := &Error{Reason: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Reason = "invalid YAML: " + msg[len(m[0]):]
	}
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) {
		e.Reason = "invalid YAML: " + strings.Join(typeErr.Errors, "; ")
	}
	return e
}
