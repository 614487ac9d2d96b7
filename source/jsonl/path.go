package jsonl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// path locates a value in a JSON record by object keys and array indexes from
// the top. Its text form is dotted keys with bracketed indexes, as in
// a.b[0].c. A key that contains a dot, a bracket, a quote or white space is
// written in double quotes, with \" and \\ as escapes, as in
// user.extra."authentication.kubernetes.io/credential-id"[0].
type path struct {
	text  string
	steps []step
}

// step is one object key, or one array index when isIndex is set.
type step struct {
	key     string
	index   int
	isIndex bool
}

func (s step) String() string {
	if s.isIndex {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	if strings.ContainsAny(s.key, ".[]\" \t\\") || s.key == "" {
		return strconv.Quote(s.key)
	}
	return s.key
}

// formatSteps writes steps in the text form of a path.
func formatSteps(steps []step) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 && !s.isIndex {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// parsePath parses the text form of a path.
func parsePath(text string) (path, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return path{}, errors.New("path is empty")
	}

	var steps []step
	i := 0
	if text[0] != '[' { // a leading index is for a record that is an array
		key, next, err := parseKey(text, 0)
		if err != nil {
			return path{}, err
		}
		steps = append(steps, step{key: key})
		i = next
	}

	for i < len(text) {
		switch text[i] {
		case '[':
			index, next, err := parseIndex(text, i)
			if err != nil {
				return path{}, err
			}
			steps = append(steps, step{index: index, isIndex: true})
			i = next
		case '.':
			if i+1 == len(text) {
				return path{}, fmt.Errorf("path %q ends with a dot", text)
			}
			key, next, err := parseKey(text, i+1)
			if err != nil {
				return path{}, err
			}
			steps = append(steps, step{key: key})
			i = next
		default:
			return path{}, fmt.Errorf("unexpected %q at byte %d of path %q: want . or [ after a key", text[i], i, text)
		}
	}
	return path{text: text, steps: steps}, nil
}

// parseKey parses the key that starts at text[i], plain or quoted, and
// returns it with the index after it.
func parseKey(text string, i int) (string, int, error) {
	if text[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(text); j++ {
			switch c := text[j]; c {
			case '"':
				return b.String(), j + 1, nil
			case '\\':
				if j+1 == len(text) || (text[j+1] != '"' && text[j+1] != '\\') {
					return "", 0, fmt.Errorf("invalid escape at byte %d of path %q: only \\\" and \\\\ are allowed", j, text)
				}
				j++
				b.WriteByte(text[j])
			default:
				b.WriteByte(c)
			}
		}
		return "", 0, fmt.Errorf("quoted key at byte %d of path %q has no closing quote", i, text)
	}

	j := i
	for j < len(text) && text[j] != '.' && text[j] != '[' {
		switch text[j] {
		case ']', '"', ' ', '\t':
			return "", 0, fmt.Errorf("unexpected %q at byte %d of path %q: quote a key that contains it, as in a.\"b c\"", text[j], j, text)
		}
		j++
	}
	if j == i {
		return "", 0, fmt.Errorf("empty key at byte %d of path %q", i, text)
	}
	return text[i:j], j, nil
}

// parseIndex parses the index in brackets at text[i].
func parseIndex(text string, i int) (int, int, error) {
	end := strings.IndexByte(text[i:], ']')
	if end < 0 {
		return 0, 0, fmt.Errorf("index at byte %d of path %q has no closing bracket", i, text)
	}
	digits := text[i+1 : i+end]
	index, err := strconv.Atoi(digits)
	if err != nil || index < 0 || strings.HasPrefix(digits, "+") {
		return 0, 0, fmt.Errorf("index %q at byte %d of path %q is not a non-negative integer", digits, i, text)
	}
	return index, i + end + 1, nil
}
