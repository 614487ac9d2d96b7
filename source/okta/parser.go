package okta

import (
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// parser holds the state of one Parse call. Its buffers are reused from
// record to record.
type parser struct {
	file string
	h    source.Handler

	json   fastjson.Parser
	fields fieldReader
	rec    record
	plan   plan
	logs   []*fastjson.Value // the System Log events of the current record
}

func newParser(file string, h source.Handler) *parser {
	return &parser{file: file, h: h}
}

// record imports one JSON object, which starts at line: a System Log event,
// or an event hook delivery or EventBridge event that carries System Log
// events. Every event, skip and rejection of an envelope's System Log
// events is reported at the envelope's line. It returns only the Handler's
// errors.
func (p *parser) record(line int, raw []byte) error {
	v, err := p.json.ParseBytes(raw)
	if err != nil {
		p.reject(line, "invalid JSON: "+err.Error())
		return nil
	}
	if v.Type() != fastjson.TypeObject {
		p.reject(line, fmt.Sprintf("the record is a JSON %s, not an object", v.Type()))
		return nil
	}

	logs, skip, err := unwrap(v, p.logs[:0])
	p.logs = logs
	if err != nil {
		p.reject(line, err.Error())
		return nil
	}
	if skip != "" {
		p.h.Skip(line, skip)
		return nil
	}

	wrapped := envelopeOf(v) != envelopeNone
	for i, log := range logs {
		if wrapped && log.Type() != fastjson.TypeObject {
			p.reject(line, fmt.Sprintf("System Log event %d of the envelope is a JSON %s, not an object", i+1, log.Type()))
			continue
		}
		if err := p.logEvent(line, log); err != nil {
			return err
		}
	}
	return nil
}

// logEvent imports one System Log event, found in the record at line. It
// returns only the Handler's errors.
func (p *parser) logEvent(line int, v *fastjson.Value) error {
	if err := p.fields.readRecord(v, &p.rec); err != nil {
		p.reject(line, err.Error())
		return nil
	}
	if err := convert(&p.rec, source.Location(p.file, line), &p.plan); err != nil {
		p.reject(line, err.Error())
		return nil
	}
	if p.plan.skip != "" {
		p.h.Skip(line, p.plan.skip)
		return nil
	}

	events := p.plan.events
	for i := range events {
		if err := events[i].Prepare(); err != nil {
			p.reject(line, invalidEvent(&events[i], err))
			return nil
		}
	}
	for _, e := range events {
		if err := p.h.Event(e); err != nil {
			return err
		}
	}
	return nil
}

// invalidEvent describes an event that fails Validate after Sanitize.
func invalidEvent(e *audit.Event, err error) string {
	if e.TokenID != "" {
		return fmt.Sprintf("the %s event of token %s is invalid: %v", e.Kind, e.TokenID, err)
	}
	return fmt.Sprintf("the %s event is invalid: %v", e.Kind, err)
}

func (p *parser) reject(line int, reason string) {
	p.h.Reject(&source.RecordError{File: p.file, Line: line, Reason: reason})
}
