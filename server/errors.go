package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Code is the stable code of an error response. Clients branch on it; the
// message beside it is generic text that may change.
type Code string

// The codes of the error responses, one per status the API returns.
const (
	CodeBadRequest       Code = "bad_request"
	CodePositionPastEnd  Code = "position_past_end" // an anomaly feed position past the store's last one
	CodeUnauthenticated  Code = "unauthenticated"
	CodeForbidden        Code = "forbidden"
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeTooLarge         Code = "too_large"
	CodeRateLimited      Code = "rate_limited"
	CodeUnavailable      Code = "unavailable"
	CodeInternal         Code = "internal"
)

// status returns the HTTP status of c.
func (c Code) status() int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodePositionPastEnd:
		return http.StatusConflict
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// apiError is an error that a handler returns to the client. Message must
// hold nothing the client did not send: internal details go to the log
// through cause.
type apiError struct {
	code    Code
	message string
	cause   error // logged, never sent
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return string(e.code) + ": " + e.message + ": " + e.cause.Error()
	}
	return string(e.code) + ": " + e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// badRequest returns a bad_request error. The message may quote the
// client's own input, such as the query parameter it got wrong.
func badRequest(message string) *apiError {
	return &apiError{code: CodeBadRequest, message: message}
}

type errorBody struct {
	Error struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError sends err to the client as {"error":{"code","message"}}. An
// error that is not an *apiError is internal: the client gets a generic
// message and the request id, and the log gets the error.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{code: CodeInternal, message: "internal error; the server log has the details under the request id", cause: err}
		if errors.Is(err, context.DeadlineExceeded) {
			ae.code, ae.message = CodeUnavailable, "the request timed out; retry later"
		}
	}
	if ae.code == CodeInternal || ae.code == CodeUnavailable || ae.cause != nil {
		// A client may put a raw token in the path or a value that the
		// error quotes, and the log must not keep it.
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String(logRequestID, requestID(r.Context())),
			slog.String(logMethod, r.Method),
			slog.String(logPath, audit.RedactTokens(r.URL.Path)),
			slog.String(logCode, string(ae.code)),
			slog.String(logError, audit.RedactTokens(err.Error())))
	}

	var body errorBody
	body.Error.Code, body.Error.Message = ae.code, ae.message
	writeJSON(w, ae.code.status(), body)
}

// rateLimitedError is a rate_limited response with the time until the
// client may retry.
type rateLimitedError struct {
	wait    time.Duration
	message string
}

func (e *rateLimitedError) Error() string { return string(CodeRateLimited) + ": " + e.message }

// writeRateLimited sends a rate_limited error with Retry-After in whole
// seconds, at least 1.
func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, e *rateLimitedError) {
	seconds := int((e.wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(seconds, 1)))
	s.writeError(w, r, &apiError{code: CodeRateLimited, message: e.message})
}

// writeJSON sends v as JSON with status. An encoding failure after the
// header is sent can only cut the body short, and the client then gets
// invalid JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client has the status; a broken connection has no one to tell
}
