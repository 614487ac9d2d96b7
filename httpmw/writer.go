package httpmw

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/tokentrail/tokentrail/audit"
)

// responseWriter captures the status a handler sends. It implements
// http.Flusher, http.Hijacker, io.ReaderFrom and http.Pusher by passing the
// call on, and Unwrap, so that http.ResponseController reaches the
// methods of the ResponseWriter it wraps (deadlines, full duplex).
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	hijacked    bool
	reason      audit.RejectReason // set by SetRejectReason
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		// An informational status (103 Early Hints) precedes the final
		// one, except 101 Switching Protocols, which ends the response.
		if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code)
			return
		}
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

// markWritten records the implicit 200 of a body written without a
// WriteHeader call.
func (w *responseWriter) markWritten() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.markWritten()
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, through the wrapped writer's
// Flush or, when it has none, its Unwrap chain.
func (w *responseWriter) Flush() {
	w.markWritten()
	// http.Flusher has no error to return; a writer that cannot flush
	// ignores the call, as net/http's own writers do after a hijack.
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack lets the handler take over the connection, when the wrapped
// writer supports it, and returns http.ErrNotSupported otherwise.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// ReadFrom copies src to the response, with the wrapped writer's
// ReadFrom when it has one, so that net/http can use sendfile.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.markWritten()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// writerOnly hides every method but Write, so that io.Copy does not call
// ReadFrom back.
type writerOnly struct{ io.Writer }

// Push starts an HTTP/2 server push when the wrapped writer supports it,
// and returns http.ErrNotSupported otherwise.
func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
