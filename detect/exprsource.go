package detect

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// filePos is a position in a file: line and column from 1, the column in
// characters.
type filePos struct{ line, column int }

// exprSource maps the bytes of an expression read from a YAML scalar to
// their positions in the file, so that a compile error can point into the
// file even when the scalar is quoted, escaped or spread over lines.
type exprSource struct {
	positions []filePos // positions[i] is where byte i of the value came from, and the last is its end
}

// position returns the file position of byte offset of the expression.
func (s *exprSource) position(offset int) (filePos, bool) {
	if offset < 0 || offset >= len(s.positions) {
		return filePos{}, false
	}
	return s.positions[offset], true
}

// exprOffset returns the byte offset in expr of a line (from 1) and a
// column (from 0, in characters), as CEL reports them.
func exprOffset(expr string, line, column int) (int, bool) {
	offset := 0
	for range line - 1 {
		i := strings.IndexByte(expr[offset:], '\n')
		if i < 0 {
			return 0, false
		}
		offset += i + 1
	}
	for range column {
		if offset >= len(expr) || expr[offset] == '\n' {
			break
		}
		_, size := utf8.DecodeRuneInString(expr[offset:])
		offset += size
	}
	return offset, true
}

// maxMappedSource bounds the bytes of YAML after a scalar's start that
// mapScalar reads.
const maxMappedSource = 1 << 20

// rawRune is a character of the YAML file and its position.
type rawRune struct {
	r   rune
	pos filePos
}

// mapScalar maps each byte of the value of the scalar node, read from data,
// to its position in data, or returns nil when it cannot.
//
// It walks the file from the scalar's start and the value side by side:
// characters that match map to each other, and runs of spaces and line
// breaks that YAML folds, indents or strips are skipped on either side. The
// escapes of double-quoted scalars and the doubled quote of single-quoted
// ones map to the character they give. A block scalar starts on the line
// after its header.
func mapScalar(data []byte, node *yaml.Node) []filePos {
	if node.Kind != yaml.ScalarNode || node.Line < 1 || node.Column < 1 {
		return nil
	}
	raw := rawRunes(data, node)
	value := node.Value
	positions := make([]filePos, len(value)+1) // and the end, for errors at the end
	style := node.Style &^ (yaml.TaggedStyle | yaml.FlowStyle)

	vi, ri := 0, 0
	for vi < len(value) {
		if ri >= len(raw) {
			return nil
		}
		vr, size := utf8.DecodeRuneInString(value[vi:])
		rr := raw[ri]
		switch {
		case style == yaml.DoubleQuotedStyle && rr.r == '\\':
			if ri+1 < len(raw) && raw[ri+1].r == '\n' {
				ri += 2 // an escaped line break joins the lines
				continue
			}
			n, decoded, ok := decodeEscape(raw[ri+1:])
			if !ok || decoded != vr {
				return nil
			}
			fill(positions[vi:vi+size], rr.pos)
			vi += size
			ri += 1 + n
		case style == yaml.SingleQuotedStyle && rr.r == '\'' && vr == '\'' && ri+1 < len(raw) && raw[ri+1].r == '\'':
			fill(positions[vi:vi+size], rr.pos)
			vi += size
			ri += 2
		case rr.r == vr:
			fill(positions[vi:vi+size], rr.pos)
			vi += size
			ri++
		case isYAMLSpace(rr.r):
			ri++
		case isYAMLSpace(vr):
			fill(positions[vi:vi+size], rr.pos)
			vi += size
		default:
			return nil
		}
	}
	if ri < len(raw) {
		positions[len(value)] = raw[ri].pos
	} else {
		positions[len(value)] = positions[max(len(value)-1, 0)]
	}
	return positions
}

func fill(positions []filePos, p filePos) {
	for i := range positions {
		positions[i] = p
	}
}

func isYAMLSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }

// rawRunes returns the characters of data from the start of the scalar
// node's content to the end of data, or of maxMappedSource bytes, with
// each line's break as '\n'.
func rawRunes(data []byte, node *yaml.Node) []rawRune {
	lines := bytes.Split(data, []byte("\n"))
	first, column := node.Line-1, node.Column-1
	switch node.Style &^ (yaml.TaggedStyle | yaml.FlowStyle) {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		first, column = first+1, 0 // the content starts after the header
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		column++ // after the opening quote
	}

	var out []rawRune
	read := 0
	for li := first; li < len(lines) && read < maxMappedSource; li++ {
		line := bytes.TrimSuffix(lines[li], []byte("\r"))
		read += len(line) + 1
		col := 0
		for len(line) > 0 {
			r, size := utf8.DecodeRune(line)
			line = line[size:]
			if li > first || col >= column {
				out = append(out, rawRune{r, filePos{li + 1, col + 1}})
			}
			col++
		}
		out = append(out, rawRune{'\n', filePos{li + 1, col + 1}})
	}
	return out
}

// decodeEscape decodes the escape of a double-quoted YAML scalar that
// follows a backslash, returning the characters it takes and the character
// it gives.
func decodeEscape(raw []rawRune) (n int, r rune, ok bool) {
	if len(raw) == 0 {
		return 0, 0, false
	}
	simple := map[rune]rune{
		'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
		'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\',
		'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029,
	}
	if d, ok := simple[raw[0].r]; ok {
		return 1, d, true
	}
	digits := map[rune]int{'x': 2, 'u': 4, 'U': 8}[raw[0].r]
	if digits == 0 || len(raw) < 1+digits {
		return 0, 0, false
	}
	var hex strings.Builder
	for _, c := range raw[1 : 1+digits] {
		hex.WriteRune(c.r)
	}
	v, err := strconv.ParseUint(hex.String(), 16, 32)
	if err != nil {
		return 0, 0, false
	}
	return 1 + digits, rune(v), true
}

// expressionNodes returns the scalar node of each custom rule's expression
// in the YAML document data, by the rule's index, or nil where there is
// none.
func expressionNodes(data []byte, rules int) []*yaml.Node {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	list := mappingValue(doc.Content[0], "custom_rules")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	nodes := make([]*yaml.Node, rules)
	for i, item := range list.Content {
		if i >= rules {
			break
		}
		nodes[i] = mappingValue(item, "expression")
	}
	return nodes
}

// mappingValue returns the value of key in the mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
