package jsonl

import (
	"bytes"
	"encoding/json"
)

// The kinds of JSON value, by the byte that starts them. A number is 'n'
// and null is 'z', so that every kind is one byte.
const (
	kindAbsent byte = 0
	kindString byte = '"'
	kindNumber byte = 'n'
	kindTrue   byte = 't'
	kindFalse  byte = 'f'
	kindNull   byte = 'z'
	kindObject byte = '{'
	kindArray  byte = '['
)

func kindName(k byte) string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindTrue, kindFalse:
		return "boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "nothing"
}

// value is one value found in a record: its kind and its bytes, quotes
// included for a string. raw points into the line, so it is valid until the
// next line is read.
type value struct {
	kind byte
	raw  []byte
}

// node is one step of the mapped paths, which share their common prefixes.
type node struct {
	id      int
	prefix  string // the path up to this node, for messages
	keys    map[string]*node
	indexes map[int]*node
	fields  []field // the fields whose path ends here
}

// extractor finds the values of a Mapping's paths in a record in one pass
// over its bytes, which also checks the JSON syntax. It skips the values no
// path leads to without decoding them.
type extractor struct {
	root  *node
	nodes []*node

	// chains[f] lists the nodes on the path of field f, root first.
	chains [numFields][]*node

	// State of the last record.
	values   [numFields]value
	mismatch []byte // by node id: the kind found where the node wants an object or array
	invalid  bool   // the record is not valid JSON
}

func newExtractor(m *Mapping) *extractor {
	x := &extractor{}
	x.root = x.newNode("")
	for f, p := range m.paths {
		if p == nil {
			continue
		}
		n := x.root
		chain := []*node{n}
		for i, s := range p.steps {
			n = x.child(n, s, formatSteps(p.steps[:i+1]))
			chain = append(chain, n)
		}
		n.fields = append(n.fields, field(f))
		x.chains[f] = chain
	}
	x.mismatch = make([]byte, len(x.nodes))
	return x
}

func (x *extractor) newNode(prefix string) *node {
	n := &node{id: len(x.nodes), prefix: prefix}
	x.nodes = append(x.nodes, n)
	return n
}

func (x *extractor) child(n *node, s step, prefix string) *node {
	if s.isIndex {
		if c := n.indexes[s.index]; c != nil {
			return c
		}
		if n.indexes == nil {
			n.indexes = make(map[int]*node)
		}
		c := x.newNode(prefix)
		n.indexes[s.index] = c
		return c
	}
	if c := n.keys[s.key]; c != nil {
		return c
	}
	if n.keys == nil {
		n.keys = make(map[string]*node)
	}
	c := x.newNode(prefix)
	n.keys[s.key] = c
	return c
}

// maxDepth bounds the nesting of a record, as encoding/json bounds it.
const maxDepth = 10000

// extract finds the mapped values in line and checks that line is one valid
// JSON value, as json.Valid does. It returns false when line is not valid
// JSON, and the values found are then meaningless.
func (x *extractor) extract(line []byte) bool {
	clear(x.values[:])
	clear(x.mismatch)
	x.invalid = false

	end := x.walk(x.root, line, skipSpace(line, 0), 0)
	if skipSpace(line, end) != len(line) {
		x.invalid = true
	}
	return !x.invalid
}

// fail marks the record invalid and returns len(b), which ends every loop of
// the walk.
func (x *extractor) fail(b []byte) int {
	x.invalid = true
	return len(b)
}

// walk checks the value at b[i], records it for the fields of n, descends
// into it for the children of n, and returns the index after it.
func (x *extractor) walk(n *node, b []byte, i, depth int) int {
	if i >= len(b) {
		return x.fail(b)
	}
	kind := kindAt(b, i)

	var end int
	switch {
	case kind == kindObject && n.keys != nil:
		end = x.walkObject(n, b, i, depth+1)
	case kind == kindArray && n.indexes != nil:
		end = x.walkArray(n, b, i, depth+1)
	default:
		if (n.keys != nil || n.indexes != nil) && kind != kindNull {
			x.mismatch[n.id] = kind
		}
		end = x.skipValue(b, i, depth)
	}

	if !x.invalid {
		for _, f := range n.fields {
			x.values[f] = value{kind: kind, raw: b[i:end]}
		}
	}
	return end
}

// walkObject walks the object at b[i], or skips it when n is nil.
func (x *extractor) walkObject(n *node, b []byte, i, depth int) int {
	if depth > maxDepth {
		return x.fail(b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		if b[i] != '"' {
			return x.fail(b)
		}
		keyStart, keyEnd := i, x.skipString(b, i)
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return x.fail(b)
		}
		i = skipSpace(b, i+1)

		// A plain key is looked up without a copy: the compiler does not
		// allocate for a conversion inside a map index.
		var c *node
		if n != nil && !x.invalid {
			if inner := b[keyStart+1 : keyEnd-1]; bytes.IndexByte(inner, '\\') < 0 {
				c = n.keys[string(inner)]
			} else {
				c = n.keys[unescapeKey(b[keyStart:keyEnd])]
			}
		}
		if c != nil {
			i = x.walk(c, b, i, depth)
		} else {
			i = x.skipValue(b, i, depth)
		}

		i = skipSpace(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i = skipSpace(b, i+1)
		default:
			return x.fail(b)
		}
	}
	return x.fail(b)
}

// walkArray walks the array at b[i], or skips it when n is nil.
func (x *extractor) walkArray(n *node, b []byte, i, depth int) int {
	if depth > maxDepth {
		return x.fail(b)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for index := 0; i < len(b); index++ {
		var c *node
		if n != nil {
			c = n.indexes[index]
		}
		if c != nil {
			i = x.walk(c, b, i, depth)
		} else {
			i = x.skipValue(b, i, depth)
		}

		i = skipSpace(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i = skipSpace(b, i+1)
		default:
			return x.fail(b)
		}
	}
	return x.fail(b)
}

// skipValue checks the value at b[i] and returns the index after it.
func (x *extractor) skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return x.fail(b)
	}
	switch b[i] {
	case '"':
		return x.skipString(b, i)
	case '{':
		return x.walkObject(nil, b, i, depth+1)
	case '[':
		return x.walkArray(nil, b, i, depth+1)
	case 't':
		return x.skipLiteral(b, i, "true")
	case 'f':
		return x.skipLiteral(b, i, "false")
	case 'n':
		return x.skipLiteral(b, i, "null")
	default:
		return x.skipNumber(b, i)
	}
}

func (x *extractor) skipLiteral(b []byte, i int, literal string) int {
	if !bytes.HasPrefix(b[i:], []byte(literal)) {
		return x.fail(b)
	}
	return i + len(literal)
}

// skipString checks the string that starts at b[i] and returns the index
// after its closing quote.
func (x *extractor) skipString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return j + 1
		case c == '\\':
			if j+1 >= len(b) {
				return x.fail(b)
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return x.fail(b)
				}
				j += 6
			default:
				return x.fail(b)
			}
		case c < 0x20:
			return x.fail(b)
		default:
			j++
		}
	}
	return x.fail(b)
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// skipNumber checks the number that starts at b[i], with the grammar of
// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (x *extractor) skipNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return x.fail(b)
	}
	if i < len(b) && b[i] == '.' {
		start := i + 1
		if i = skipDigits(b, start); i == start {
			return x.fail(b)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(b, start); i == start {
			return x.fail(b)
		}
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// unescapeKey decodes a quoted object key that contains escapes.
func unescapeKey(quoted []byte) string {
	var key string
	if err := json.Unmarshal(quoted, &key); err != nil {
		return ""
	}
	return key
}

// firstMismatch returns the node on the path of f where the record holds a
// value that the path cannot go into, or nil.
func (x *extractor) firstMismatch(f field) *node {
	for _, n := range x.chains[f] {
		if x.mismatch[n.id] != kindAbsent {
			return n
		}
	}
	return nil
}

func kindAt(b []byte, i int) byte {
	switch c := b[i]; c {
	case '"', '{', '[', 't', 'f':
		return c
	case 'n':
		return kindNull
	default:
		return kindNumber
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}
