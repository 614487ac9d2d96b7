package k8saudit

import (
	"fmt"
	"strconv"
)

// rememberedRequests is how many emitted requests a stageTracker remembers,
// to skip their later stages. At about 100 bytes each, that is a few MiB.
//
// NOTE: a stage that arrives after its request has been forgotten is emitted
// again. It has the same event ID, so a store keeps only the first copy, which
// may be the one without the response status.
const rememberedRequests = 50_000

// stageTracker merges the stage records of each request into one settled
// request. It holds at most window+1 pending requests, because each record
// adds at most one and a pending request is emitted once window more records
// have followed it.
type stageTracker struct {
	window int
	seq    int // number of records seen

	pending map[string]*request // by auditID
	order   []pendingRef        // pending requests, oldest first; stale entries are skipped
	head    int                 // index of the oldest live entry of order

	emitted    map[string]emittedRequest // by auditID, for the last remembered requests emitted
	ring       []string                  // auditIDs of emitted, in the order they were emitted
	remembered int                       // the size ring grows to
	next       int                       // the next slot of ring to overwrite, once it is full

	// free holds requests that were emitted or superseded, for newRequest
	// to reuse with their events' storage.
	free []*request
}

// emittedRequest locates the record an emitted request was built from.
type emittedRequest struct {
	line  int
	stage string
}

type pendingRef struct {
	auditID string
	seq     int
}

func newStageTracker(window int) stageTracker {
	return newStageTrackerSize(window, rememberedRequests)
}

func newStageTrackerSize(window, remembered int) stageTracker {
	return stageTracker{
		window:     max(window, 1),
		pending:    make(map[string]*request),
		emitted:    make(map[string]emittedRequest),
		remembered: max(remembered, 1),
	}
}

// advance counts one more record and emits the pending requests whose window
// has passed without a later stage.
func (t *stageTracker) advance(emit func(*request) error) error {
	t.seq++
	for t.head < len(t.order) {
		ref := t.order[t.head]
		if ref.seq+t.window >= t.seq {
			break
		}
		t.head++
		if err := t.settle(ref, emit); err != nil {
			return err
		}
	}

	// Drop the consumed front once it is the larger part, so that order
	// stays within about twice the window.
	if t.head > len(t.order)/2 {
		t.order = append(t.order[:0], t.order[t.head:]...)
		t.head = 0
	}
	return nil
}

// newRequest returns a request for buildRequest to fill, reusing one that
// the tracker has finished with.
func (t *stageTracker) newRequest() *request {
	if n := len(t.free); n > 0 {
		req := t.free[n-1]
		t.free = t.free[:n-1]
		return req
	}
	return &request{}
}

// release takes back a request that is no longer pending, after its events
// have been handed on: the Handler receives copies of them.
func (t *stageTracker) release(req *request) {
	t.free = append(t.free, req)
}

// add takes the request of the record just counted by advance, and
// releases it once it is emitted or superseded.
func (t *stageTracker) add(req *request, emit func(*request) error, skip func(line, item int, reason string)) error {
	if done, ok := t.emitted[req.auditID]; ok {
		skip(req.line, req.item, "stage "+req.stage+" of request "+req.auditID+
			" is not imported again: the request was imported from line "+strconv.Itoa(done.line)+" (stage "+done.stage+")")
		t.release(req)
		return nil
	}

	req.seq = t.seq
	if earlier, ok := t.pending[req.auditID]; ok {
		if stageRank[earlier.stage] > stageRank[req.stage] {
			skip(req.line, req.item, supersededReason(req, earlier))
			t.release(req)
			return nil
		}
		skip(earlier.line, earlier.item, supersededReason(earlier, req))
		delete(t.pending, req.auditID)
		t.release(earlier)
	}

	if req.final() {
		t.remember(req)
		err := emit(req)
		t.release(req)
		return err
	}
	t.pending[req.auditID] = req
	t.order = append(t.order, pendingRef{auditID: req.auditID, seq: req.seq})
	return nil
}

// flush emits every pending request, oldest first, at the end of the input.
func (t *stageTracker) flush(emit func(*request) error) error {
	for ; t.head < len(t.order); t.head++ {
		if err := t.settle(t.order[t.head], emit); err != nil {
			return err
		}
	}
	t.order, t.head = t.order[:0], 0
	return nil
}

// settle emits the pending request of ref unless a later stage has replaced
// it since.
func (t *stageTracker) settle(ref pendingRef, emit func(*request) error) error {
	req, ok := t.pending[ref.auditID]
	if !ok || req.seq != ref.seq {
		return nil
	}
	delete(t.pending, ref.auditID)
	t.remember(req)
	err := emit(req)
	t.release(req)
	return err
}

// supersededReason is the skip reason of the request old, which a later
// stage of the same request, in the record of req, replaces.
func supersededReason(old, req *request) string {
	return "stage " + old.stage + " of request " + old.auditID + " is superseded by stage " + req.stage + " at line " + strconv.Itoa(req.line)
}

func (t *stageTracker) remember(req *request) {
	if len(t.ring) < t.remembered {
		t.ring = append(t.ring, req.auditID)
	} else {
		delete(t.emitted, t.ring[t.next])
		t.ring[t.next] = req.auditID
		t.next = (t.next + 1) % len(t.ring)
	}
	t.emitted[req.auditID] = emittedRequest{line: req.line, stage: req.stage}
}

// String describes the tracker's state, for test failures.
func (t *stageTracker) String() string {
	return fmt.Sprintf("stageTracker{seq: %d, pending: %d, order: %d, emitted: %d}", t.seq, len(t.pending), len(t.order)-t.head, len(t.emitted))
}
