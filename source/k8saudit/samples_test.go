package k8saudit

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/shareddata"
)

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func checkEvent(tb testing.TB, got, want audit.Event) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("event from %s:\n got %+v\nwant %+v", want.Source, got, want)
	}
}

func checkTotals(tb testing.TB, r *result, events, skipped, rejected int) {
	tb.Helper()
	if len(r.events) != events {
		tb.Errorf("events = %d, want %d", len(r.events), events)
	}
	if len(r.skips) != skipped {
		tb.Errorf("skipped = %d, want %d", len(r.skips), skipped)
	}
	if len(r.rejects) != rejected {
		tb.Errorf("rejected = %d, want %d", len(r.rejects), rejected)
	}
	if tb.Failed() {
		tb.Logf("parse result:\n%s", r)
	}
}

// TestHoriSample reads the k3s log in testdata: one token across three
// stages of several requests.
func TestHoriSample(t *testing.T) {
	const file = "hori-k3s-linkerd.jsonl"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 4, 2, 0)

	// A final stage is emitted at once. The two requests that end in
	// ResponseStarted are emitted at the end of the file, in order.
	var order []string
	for _, e := range r.events {
		order = append(order, e.Source)
	}
	wantOrder := []string{file + ":1", file + ":4", file + ":3", file + ":6"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("event sources = %v, want %v", order, wantOrder)
	}

	const auditID = "28ab3987-e67b-4cda-8e0d-1e8754bbb125"
	checkEvent(t, r.eventAt(t, file, 3, audit.KindUsed), audit.Event{
		ID:        audit.NewID("k8saudit", auditID),
		Time:      mustTime(t, "2025-05-19T09:44:36.348992Z"),
		Kind:      audit.KindUsed,
		TokenID:   "17ab4926-813f-4ffe-9173-f288d07c1b31",
		Issuer:    "kubernetes",
		Subject:   "system:serviceaccount:linkerd:linkerd-destination",
		IP:        netip.MustParseAddr("10.23.0.6"),
		UserAgent: "controller/v0.0.0 (linux/arm64) kubernetes/$Format",
		Method:    "watch",
		Path:      "/api/v1/services?allowWatchBookmarks=true&resourceVersion=1115&timeout=7m38s&timeoutSeconds=458&watch=true",
		Status:    200,
		TraceID:   auditID,
		Source:    file + ":3",
	})

	// The watch that started before the log began has only its final stage.
	first := r.eventAt(t, file, 1, audit.KindUsed)
	if want := mustTime(t, "2025-05-19T09:37:51.360338Z"); !first.Time.Equal(want) {
		t.Errorf("line 1 Time = %v, want requestReceivedTimestamp %v", first.Time, want)
	}

	for _, n := range []int{2, 5} {
		if reason := r.skipAt(t, n); !strings.Contains(reason, "superseded by stage ResponseStarted at line "+fmt.Sprint(n+1)) {
			t.Errorf("skip reason of line %d = %q, want it superseded by line %d", n, reason, n+1)
		}
	}
}

// TestMinikubeSample reads a raw minikube log: service-account tokens
// polling every two seconds, a rotated token, client certificates,
// impersonation and the API server talking to itself over ::1.
func TestMinikubeSample(t *testing.T) {
	const file = "k8s-audit-minikube-v1.32-bugurshik.jsonl"
	r := parseFile(t, shareddata.File(t, file))

	checkTotals(t, r, 12, 88, 0)

	perToken := map[string]int{}
	for _, e := range r.events {
		perToken[e.TokenID]++
	}
	wantPerToken := map[string]int{
		"fc0f155d-4514-48d3-a4e2-fe6746d9753b": 9, // storage-provisioner polling
		"89720503-beea-4e83-a78b-bf722f9f5e48": 1, // its earlier token
		"a7f804b6-1258-4ce1-a0e8-df7bf1452a38": 2, // kube-proxy
	}
	if !reflect.DeepEqual(perToken, wantPerToken) {
		t.Errorf("events per token = %v, want %v", perToken, wantPerToken)
	}

	t.Run("polling token", func(t *testing.T) {
		const auditID = "a426cafa-e007-4116-9a41-623b3df26d83"
		checkEvent(t, r.eventAt(t, file, 2, audit.KindUsed), audit.Event{
			ID:        audit.NewID("k8saudit", auditID),
			Time:      mustTime(t, "2025-07-13T10:37:56.535627Z"),
			Kind:      audit.KindUsed,
			TokenID:   "fc0f155d-4514-48d3-a4e2-fe6746d9753b",
			Issuer:    "kubernetes",
			Subject:   "system:serviceaccount:kube-system:storage-provisioner",
			IP:        netip.MustParseAddr("192.168.49.2"),
			UserAgent: "storage-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format",
			Method:    "get",
			Path:      "/api/v1/namespaces/kube-system/endpoints/k8s.io-minikube-hostpath",
			Status:    200,
			TraceID:   auditID,
			Source:    file + ":2",
		})
		if reason := r.skipAt(t, 1); !strings.Contains(reason, "superseded by stage ResponseComplete at line 2") {
			t.Errorf("skip reason of line 1 = %q, want it superseded by line 2", reason)
		}
	})

	t.Run("second token", func(t *testing.T) {
		const auditID = "51c80c98-7553-4795-bc28-480bba3c5467"
		checkEvent(t, r.eventAt(t, file, 79, audit.KindUsed), audit.Event{
			ID:        audit.NewID("k8saudit", auditID),
			Time:      mustTime(t, "2025-07-13T10:30:51.242435Z"),
			Kind:      audit.KindUsed,
			TokenID:   "89720503-beea-4e83-a78b-bf722f9f5e48",
			Issuer:    "kubernetes",
			Subject:   "system:serviceaccount:kube-system:storage-provisioner",
			IP:        netip.MustParseAddr("192.168.49.2"),
			UserAgent: "storage-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format",
			Method:    "watch",
			Path:      "/api/v1/persistentvolumes?allowWatchBookmarks=true&resourceVersion=9234&timeout=8m24s&timeoutSeconds=504&watch=true",
			Status:    200,
			TraceID:   auditID,
			Source:    file + ":79",
		})
	})

	t.Run("kube-proxy token", func(t *testing.T) {
		const auditID = "36fc4844-1a18-4d62-abf7-77d471a7d809"
		checkEvent(t, r.eventAt(t, file, 68, audit.KindUsed), audit.Event{
			ID:        audit.NewID("k8saudit", auditID),
			Time:      mustTime(t, "2025-07-13T10:39:09.574267Z"),
			Kind:      audit.KindUsed,
			TokenID:   "a7f804b6-1258-4ce1-a0e8-df7bf1452a38",
			Issuer:    "kubernetes",
			Subject:   "system:serviceaccount:kube-system:kube-proxy",
			IP:        netip.MustParseAddr("192.168.49.2"),
			UserAgent: "kube-proxy/v1.32.0 (linux/amd64) kubernetes/70d3cc9",
			Method:    "watch",
			Path:      "/api/v1/services?allowWatchBookmarks=true&fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&resourceVersion=9634&timeout=9m21s&timeoutSeconds=561&watch=true",
			Status:    200,
			TraceID:   auditID,
			Source:    file + ":68",
		})
	})

	t.Run("client certificate skipped", func(t *testing.T) {
		reason := r.skipAt(t, 24)
		if !strings.Contains(reason, "system:kube-controller-manager was authenticated with an X.509 client certificate") {
			t.Errorf("skip reason of line 24 = %q, want the X.509 reason", reason)
		}
	})

	t.Run("impersonation by certificate skipped", func(t *testing.T) {
		// minikube-user impersonates a service account: no token is used.
		reason := r.skipAt(t, 85)
		if !strings.Contains(reason, "minikube-user was authenticated with an X.509 client certificate") {
			t.Errorf("skip reason of line 85 = %q, want the X.509 reason", reason)
		}
	})

	t.Run("loopback without credential skipped", func(t *testing.T) {
		reason := r.skipAt(t, 5)
		if !strings.Contains(reason, "system:apiserver has no credential id") {
			t.Errorf("skip reason of line 5 = %q, want the missing credential id", reason)
		}
	})
}

// TestSekoiaSample reads records from a log-format test suite: client
// certificates, an impersonating proxy with two source addresses, and old
// records without apiVersion and kind.
func TestSekoiaSample(t *testing.T) {
	const file = "k8s-audit-sekoia.jsonl"
	r := parseFile(t, shareddata.File(t, file))

	checkTotals(t, r, 1, 7, 0)

	const auditID = "bdeb089c-5d70-4776-b6af-88e739fb0dd5"
	checkEvent(t, r.eventAt(t, file, 7, audit.KindUsed), audit.Event{
		ID:      audit.NewID("k8saudit", auditID),
		Time:    mustTime(t, "2025-01-23T14:56:02.374424Z"),
		Kind:    audit.KindUsed,
		TokenID: "581d10f3-b521-480f-aa42-bcd6a70df8ea",
		Issuer:  "kubernetes",
		// The token is the proxy's, not that of the user it impersonates.
		Subject: "system:serviceaccount:pinniped-concierge:pinniped-concierge-impersonation-proxy",
		// The first of ["1.1.1.1", "2.2.2.2"]: the client, not the proxy.
		IP:        netip.MustParseAddr("1.1.1.1"),
		UserAgent: "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
		Method:    "list",
		Path:      "/api/v1/namespaces/support/pods?limit=500",
		Status:    200,
		TraceID:   auditID,
		Source:    file + ":7",
	})

	// The old records are read as audit records: skipped, not rejected.
	for _, n := range []int{6, 8} {
		if reason := r.skipAt(t, n); !strings.Contains(reason, "user@mail.com has no credential id") {
			t.Errorf("skip reason of line %d = %q, want the missing credential id", n, reason)
		}
	}
	for _, n := range []int{1, 2, 3, 4, 5} {
		if reason := r.skipAt(t, n); !strings.Contains(reason, "X.509") {
			t.Errorf("skip reason of line %d = %q, want the X.509 reason", n, reason)
		}
	}
}

// TestTokenRequest reads the TokenRequest records in testdata.
func TestTokenRequest(t *testing.T) {
	const file = "tokenrequest.jsonl"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 5, 1, 0)

	t.Run("kubelet issues pod token", func(t *testing.T) {
		const auditID = "0c5e7a13-2f4b-4d8e-a1c6-9b3d5f7e2a40"
		checkEvent(t, r.eventAt(t, file, 2, audit.KindIssued), audit.Event{
			ID:        audit.NewID("k8saudit", auditID, "issued"),
			Time:      mustTime(t, "2025-03-04T11:20:00.412337Z"),
			Kind:      audit.KindIssued,
			TokenID:   "b7e4c1d2-9a3f-4e6b-8c5d-2f1a0e9d8c7b",
			Issuer:    "kubernetes",
			Subject:   "system:serviceaccount:payments:ledger",
			Audience:  []string{"https://kubernetes.default.svc.cluster.local", "vault"},
			ExpiresAt: mustTime(t, "2025-03-04T12:20:07Z"),
			IP:        netip.MustParseAddr("10.0.12.7"),
			UserAgent: "kubelet/v1.31.4 (linux/amd64) kubernetes/a78aa47",
			Method:    "create",
			Path:      "/api/v1/namespaces/payments/serviceaccounts/ledger/token",
			Status:    201,
			TraceID:   auditID,
			Source:    file + ":2",
		})
		if reason := r.skipAt(t, 1); !strings.Contains(reason, "system:node:worker-1 was authenticated with an X.509 client certificate") {
			t.Errorf("skip reason of line 1 = %q, want the X.509 reason", reason)
		}
	})

	t.Run("issued token used over IPv6", func(t *testing.T) {
		e := r.eventAt(t, file, 3, audit.KindUsed)
		if e.TokenID != "b7e4c1d2-9a3f-4e6b-8c5d-2f1a0e9d8c7b" {
			t.Errorf("TokenID = %q, want the jti issued at line 2", e.TokenID)
		}
		if want := netip.MustParseAddr("fd00:10:244:1::1a"); e.IP != want {
			t.Errorf("IP = %v, want %v", e.IP, want)
		}
	})

	t.Run("token minted with a token", func(t *testing.T) {
		const auditID = "4b8e2d6f-1a5c-4e9b-8d3f-7c0a2e6b9d15"
		used := r.eventAt(t, file, 4, audit.KindUsed)
		if want := "5f2d8c1e-3b7a-4e9f-a6c0-d4b8e2f1a7c3"; used.TokenID != want {
			t.Errorf("used TokenID = %q, want the controller's token %q", used.TokenID, want)
		}
		if want := audit.NewID("k8saudit", auditID); used.ID != want {
			t.Errorf("used ID = %q, want the request's ID %q", used.ID, want)
		}
		checkEvent(t, r.eventAt(t, file, 4, audit.KindIssued), audit.Event{
			ID:      audit.NewID("k8saudit", auditID, "issued"),
			Time:    mustTime(t, "2025-03-04T11:30:00.250113Z"),
			Kind:    audit.KindIssued,
			TokenID: "e3a9f0c6-8d2b-4c7e-b1f5-6a0d3c9e8b24",
			Issuer:  "kubernetes",
			Subject: "system:serviceaccount:ci:deployer",
			// The request left the audience to the API server's default,
			// which the response names.
			Audience:  []string{"https://kubernetes.default.svc.cluster.local"},
			ExpiresAt: mustTime(t, "2025-03-04T11:40:00Z"),
			IP:        netip.MustParseAddr("10.0.31.4"),
			UserAgent: "token-broker/0.9.3",
			Method:    "create",
			Path:      "/api/v1/namespaces/ci/serviceaccounts/deployer/token",
			Status:    201,
			TraceID:   auditID,
			Source:    file + ":4",
		})
	})

	t.Run("refused request issues nothing", func(t *testing.T) {
		used := r.eventAt(t, file, 5, audit.KindUsed)
		if used.Status != 403 {
			t.Errorf("Status = %d, want 403", used.Status)
		}
		for _, e := range r.events {
			if e.Source == file+":5" && e.Kind == audit.KindIssued {
				t.Errorf("refused TokenRequest yielded an issued event: %+v", e)
			}
		}
	})

	t.Run("issued tokens kept nowhere", func(t *testing.T) {
		text := readFile(t, "testdata/"+file)
		output := fmt.Sprintf("%+v", r.events) + r.String()
		tokens := 0
		for n := 1; n <= 5; n++ {
			var rec struct {
				ResponseObject struct {
					Status any `json:"status"`
				} `json:"responseObject"`
			}
			if err := json.Unmarshal([]byte(line(t, text, n)), &rec); err != nil {
				t.Fatal(err)
			}
			status, _ := rec.ResponseObject.Status.(map[string]any)
			token, _ := status["token"].(string)
			if token == "" {
				continue
			}
			tokens++
			// The signature is the part no other field shares.
			signature := token[strings.LastIndexByte(token, '.')+1:]
			if strings.Contains(output, signature) {
				t.Errorf("the token of line %d appears in the importer's output", n)
			}
		}
		if tokens != 2 {
			t.Errorf("testdata holds %d issued tokens, want 2", tokens)
		}
	})
}
