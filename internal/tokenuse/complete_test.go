package tokenuse

import (
	"net/netip"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/clientip"
	"github.com/tokentrail/tokentrail/recorder"
)

type discardRecorder struct{}

func (discardRecorder) Record(audit.Event) bool { return true }

// FuzzCompleteRequest feeds arbitrary request strings to the completion
// that the recorder's flusher goroutine runs, with every address trusted as
// a proxy and with either forwarding header. A panic there would be
// recovered, but the event would lose its context.
func FuzzCompleteRequest(f *testing.F) {
	f.Add("203.0.113.7:51234", "198.51.100.66, 10.0.0.9", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("[2001:db8::7]:443", `for="[2001:db8::9]:443";proto=https, for=unknown`, "ff-zz")
	f.Add("pipe", ",,,", "")
	f.Add("[:", `for="`, "00-")

	trackers := make([]*Tracker, 0, 2)
	for _, header := range []clientip.Header{clientip.XForwardedFor, clientip.Forwarded} {
		tr, err := New(Config{
			Recorder:       discardRecorder{},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
			ProxyHeader:    header,
		}, "fuzz")
		if err != nil {
			f.Fatal(err)
		}
		trackers = append(trackers, tr)
	}

	f.Fuzz(func(t *testing.T, remoteAddr, forwarded, traceparent string) {
		for _, tr := range trackers {
			var e audit.Event
			rc := recorder.RequestContext{RemoteAddr: remoteAddr, Forwarded: forwarded, Traceparent: traceparent}
			tr.completeRequest(&e, &rc)
			if e.TraceID != "" && len(e.TraceID) != 32 {
				t.Errorf("TraceID(%q) = %q, want 32 hex digits or empty", traceparent, e.TraceID)
			}
		}
	})
}
