package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// HTTPSource is the Source that reads the revocation feed of a tokentrail
// server (GET /api/v1/revocations), for a service in another process than
// the store. Its Cursor is the feed's next position, in decimal.
//
// With Wait set, a call whose cursor found nothing new in the call before
// long-polls: the server holds the request until a revocation is stored
// or Wait ends. A Refresher over an HTTPSource then learns a revocation as
// soon as the server stores it, instead of at its next tick, and counts
// its Set current while the server holds the request (LongPollSource).
// After a failed call, the next one does not wait, so that a Refresher
// learns at once whether the server is back.
//
// A server whose store was restored from an older copy or replaced
// responds to a cursor past its last position with 409 position_past_end.
// Revocations then returns an error wrapping ErrCursorPastEnd, and a
// Refresher reads again from the start.
//
// An HTTPSource is safe for concurrent use.
type HTTPSource struct {
	feed   string // the feed's URL
	key    string // never logged or put in an error
	client *http.Client
	wait   time.Duration

	mu     sync.Mutex
	idle   Cursor // the cursor of the last call that found nothing new
	isIdle bool
}

var _ LongPollSource = (*HTTPSource)(nil)

// HTTPSourceOptions tune an HTTPSource. The zero value polls without
// waiting, with http.DefaultClient.
type HTTPSourceOptions struct {
	Client *http.Client  // default http.DefaultClient
	Wait   time.Duration // the long-poll wait; 0 polls only
}

// NewHTTPSource returns a Source over the feed of the server at baseURL,
// such as https://tokentrail.internal:8080, read with apiKey, an API key
// with the read or ingest role. It returns an error for a URL that is not
// absolute http or https, or an empty key.
func NewHTTPSource(baseURL, apiKey string, opts HTTPSourceOptions) (*HTTPSource, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("revocation: invalid server URL %q: want an absolute http or https URL such as https://tokentrail.internal:8080", baseURL)
	}
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("revocation: missing API key: create one with the read or ingest role (tokentrail keys create)")
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/revocations"
	return &HTTPSource{feed: u.String(), key: apiKey, client: opts.Client, wait: opts.Wait}, nil
}

// LongPollWait returns Wait when a call with cursor after long-polls,
// because the call before with that cursor found nothing new, and 0
// otherwise.
func (s *HTTPSource) LongPollWait(after Cursor) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.longPollWaitLocked(after)
}

func (s *HTTPSource) longPollWaitLocked(after Cursor) time.Duration {
	if s.wait > 0 && s.isIdle && s.idle == after {
		return s.wait
	}
	return 0
}

// httpFeedPage is the body of a feed response.
type httpFeedPage struct {
	Revocations []audit.Event `json:"revocations"`
	Next        int64         `json:"next"`
}

// httpError is the body of an error response of the server.
type httpError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// codePositionPastEnd is the server's error code for a feed position past
// the last one its store has handed out.
const codePositionPastEnd = "position_past_end"

// Revocations returns the revoked events the server stored after the
// cursor, at most a page. It fails for a cursor it did not return, for
// a response other than 200 or 304, and when the request fails. For a
// cursor past the last position of the server's store, the error wraps
// ErrCursorPastEnd.
func (s *HTTPSource) Revocations(ctx context.Context, after Cursor) ([]audit.Event, Cursor, error) {
	events, next, err := s.read(ctx, after)
	if err != nil {
		// The next call does not wait, so that a Refresher learns at once
		// whether the server responds again.
		s.mu.Lock()
		s.isIdle = false
		s.mu.Unlock()
	}
	return events, next, err
}

func (s *HTTPSource) read(ctx context.Context, after Cursor) ([]audit.Event, Cursor, error) {
	pos := int64(0)
	if after != "" {
		n, err := strconv.ParseInt(string(after), 10, 64)
		if err != nil || n < 0 {
			return nil, after, fmt.Errorf("http source: invalid cursor %q: pass a cursor that this source returned", after)
		}
		pos = n
	}
	s.mu.Lock()
	wait := s.longPollWaitLocked(after)
	s.mu.Unlock()

	query := url.Values{"after": {strconv.FormatInt(pos, 10)}}
	if wait > 0 {
		query.Set("wait", wait.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.feed+"?"+query.Encode(), nil)
	if err != nil {
		return nil, after, fmt.Errorf("http source: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("If-None-Match", strconv.Quote(strconv.FormatInt(pos, 10)))

	resp, err := s.client.Do(req)
	if err != nil {
		return nil, after, fmt.Errorf("http source: read %s: %w", s.feed, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		s.markIdle(after)
		return nil, after, nil
	case http.StatusOK:
	default:
		// The body is the server's {"error":{"code","message"}}, which
		// holds nothing secret.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // the status alone is enough when the body cannot be read
		var apiErr httpError
		if resp.StatusCode == http.StatusConflict && json.Unmarshal(body, &apiErr) == nil && apiErr.Error.Code == codePositionPastEnd {
			return nil, after, fmt.Errorf("http source: read %s: %w: %s", s.feed, ErrCursorPastEnd, apiErr.Error.Message)
		}
		return nil, after, fmt.Errorf("http source: read %s: %s: %s", s.feed, resp.Status, strings.TrimSpace(string(body)))
	}

	var page httpFeedPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, after, fmt.Errorf("http source: decode the response of %s: %w", s.feed, err)
	}
	if len(page.Revocations) == 0 {
		s.markIdle(after)
		return nil, after, nil
	}
	return page.Revocations, Cursor(strconv.FormatInt(page.Next, 10)), nil
}

func (s *HTTPSource) markIdle(c Cursor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle, s.isIdle = c, true
}
