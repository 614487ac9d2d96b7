package httpmw_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

// memoryWriter keeps events in memory, in place of a store such as
// *sqlite.Store.
type memoryWriter struct{ events []audit.Event }

func (w *memoryWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	w.events = append(w.events, events...)
	return store.Appended{Inserted: len(events)}, nil
}

func Example() {
	w := &memoryWriter{}
	rec := recorder.New(w, recorder.Options{})

	// Revocations come from the store through a revocation.Refresher; one
	// is added by hand here.
	var revoked revocation.Set
	_ = revoked.Add(audit.Event{ID: "r1", Time: time.Now(), Kind: audit.KindRevoked, TokenID: "jti-stolen"})

	mw, err := httpmw.New(httpmw.Options{
		Recorder:       rec,
		Revocations:    &revoked,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // the load balancers
		Source:         "orders-api",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	api := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "orders")
	}))

	for _, jti := range []string{"jti-good", "jti-stolen"} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+unsignedToken(jti))
		resp := httptest.NewRecorder()
		api.ServeHTTP(resp, req)
		fmt.Println(jti, resp.Code)
	}

	_ = rec.Close(context.Background())
	for _, e := range w.events {
		fmt.Printf("%s %s %d reason=%q\n", e.Kind, e.TokenID, e.Status, e.RejectReason)
	}
	// Output:
	// jti-good 200
	// jti-stolen 401
	// used jti-good 200 reason=""
	// rejected jti-stolen 401 reason="revoked"
}

// unsignedToken returns a compact JWT with claim jti and no valid
// signature: the middleware does not verify tokens, the application does.
func unsignedToken(jti string) string {
	payload := fmt.Sprintf(`{"jti":%q,"sub":"alice"}`, jti)
	return "eyJhbGciOiJIUzI1NiJ9." + base64URL(payload) + ".c2lnbmF0dXJl"
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
