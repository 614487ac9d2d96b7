package k8saudit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/tokentrail/tokentrail/source"
)

// readChunk bounds each read of the document decoder, so that it reads at most
// this far past the value it decodes.
const readChunk = 64 << 10

// maxValueBytes bounds one value of a document as source.MaxLineBytes bounds
// a line. The reads ahead of the decoder are counted too, so the bound is
// above source.MaxLineBytes by two chunks.
const maxValueBytes = source.MaxLineBytes + 2*readChunk

var errValueTooLarge = fmt.Errorf("a JSON value is longer than the limit of %d bytes", source.MaxLineBytes)

// documentReader feeds a json.Decoder, bounds the size of each value and
// finds the line number of a byte offset.
type documentReader struct {
	r      io.Reader
	offset int64 // bytes passed to the decoder
	mark   int64 // the decoder's offset before the value it decodes now
	failed error // the first error of r other than io.EOF

	newlines []int64 // offsets of the newlines passed and not yet counted by lineAt
	counted  int     // newlines before newlines[0]
}

func (d *documentReader) Read(p []byte) (int, error) {
	if d.offset-d.mark > maxValueBytes {
		return 0, errValueTooLarge
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}

	n, err := d.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		d.newlines = append(d.newlines, d.offset+int64(i+j))
		i += j + 1
	}
	d.offset += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && d.failed == nil {
		d.failed = err
	}
	return n, err
}

// lineAt returns the 1-based line of the byte at offset. Successive calls
// must not pass a smaller offset, because the newlines before the last
// offset are forgotten.
func (d *documentReader) lineAt(offset int64) int {
	i := 0
	for i < len(d.newlines) && d.newlines[i] < offset {
		i++
	}
	d.counted += i
	d.newlines = d.newlines[i:]
	return d.counted + 1
}

// parseDocument reads a JSON document that spans lines: one EventList, an
// array of events, or a sequence of pretty-printed events.
func (p *parser) parseDocument(ctx context.Context, r io.Reader) error {
	d := &documentReader{r: r}
	dec := json.NewDecoder(d)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}

		d.mark = dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.abandon(d, err)
		}

		switch tok {
		case json.Delim('{'):
			err = p.documentObject(ctx, d, dec, d.lineAt(dec.InputOffset()-1))
		case json.Delim('['):
			err = p.documentArray(ctx, d, dec)
		default:
			p.count()
			p.reject(d.lineAt(dec.InputOffset()), -1, "top-level JSON value %v is not an audit event, an EventList or an array of events", tok)
			err = p.stages.advance(p.emit)
		}
		if err != nil {
			return err
		}
	}
}

// documentArray reads the values of an array whose "[" has been read.
func (p *parser) documentArray(ctx context.Context, d *documentReader, dec *json.Decoder) error {
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, line, err := decodeValue(d, dec)
		if err != nil {
			return p.abandon(d, err)
		}
		if err := p.value(raw, line); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return p.abandon(d, err)
	}
	return nil
}

// documentObject reads an object whose "{" has been read at line. The items
// of an EventList are read one at a time. Any other object is collected and
// handled as one audit event.
func (p *parser) documentObject(ctx context.Context, d *documentReader, dec *json.Decoder, line int) error {
	var fields bytes.Buffer
	hasItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return p.abandon(d, err)
		}
		key, _ := tok.(string) // an object's key is always a string

		if key == "items" {
			hasItems = true
			if err := p.documentItems(ctx, d, dec, line); err != nil {
				return err
			}
			continue
		}

		d.mark = dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return p.abandon(d, err)
		}
		if fields.Len() > 0 {
			fields.WriteByte(',')
		}
		fields.WriteString(strconv.Quote(key))
		fields.WriteByte(':')
		fields.Write(raw)
	}
	if _, err := dec.Token(); err != nil {
		return p.abandon(d, err)
	}
	if hasItems {
		return nil
	}

	obj := make([]byte, 0, fields.Len()+2)
	obj = append(obj, '{')
	obj = append(append(obj, fields.Bytes()...), '}')
	return p.value(obj, line)
}

// documentItems reads the value of the "items" key of the list at line.
func (p *parser) documentItems(ctx context.Context, d *documentReader, dec *json.Decoder, line int) error {
	tok, err := dec.Token()
	if err != nil {
		return p.abandon(d, err)
	}
	if tok == nil {
		p.count()
		p.skip(line, -1, "list has no items")
		return nil
	}
	if tok != json.Delim('[') {
		if err := skipRest(dec, tok); err != nil {
			return p.abandon(d, err)
		}
		p.count()
		p.reject(line, -1, "field items is not a JSON array, so the list cannot be read")
		return p.stages.advance(p.emit)
	}

	for i := 0; dec.More(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, itemLine, err := decodeValue(d, dec)
		if err != nil {
			return p.abandon(d, err)
		}
		if err := p.item(raw, itemLine, -1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return p.abandon(d, err)
	}
	return nil
}

// decodeValue decodes the next value of dec and returns it with the line it
// starts on.
func decodeValue(d *documentReader, dec *json.Decoder) (json.RawMessage, int, error) {
	d.mark = dec.InputOffset()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, 0, err
	}
	return raw, d.lineAt(dec.InputOffset() - int64(len(raw))), nil
}

// skipRest consumes the rest of a value whose first token was tok.
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = dec.Token(); err != nil {
			return err
		}
	}
}

// abandon reports the record where reading the document broke off and
// returns the error that ends Parse.
func (p *parser) abandon(d *documentReader, err error) error {
	if d.failed != nil {
		return fmt.Errorf("read %s: %w", p.file, d.failed)
	}

	var line int
	var reason string
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		line = d.lineAt(syntaxErr.Offset)
		reason = fmt.Sprintf("invalid JSON (%v)", err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line = d.lineAt(d.offset)
		reason = "the document ends inside a JSON value"
	case errors.Is(err, errValueTooLarge):
		line = d.lineAt(d.mark)
		reason = errValueTooLarge.Error()
	default:
		line = d.lineAt(d.offset)
		reason = err.Error()
	}

	p.count()
	p.reject(line, -1, "%s: the rest of the document cannot be read, so fix it or convert it to one record a line", reason)
	return fmt.Errorf("%w: %s: %s", ErrUnreadableDocument, source.Location(p.file, line), reason)
}
