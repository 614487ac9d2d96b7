package k8saudit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// The keys under which the API server records token identities.
const (
	// credentialIDKey is the user.extra key of the credential that
	// authenticated the request: "JTI=<jti>" for a service-account token,
	// "X509SHA256=<hex>" for a client certificate.
	credentialIDKey = "authentication.kubernetes.io/credential-id"

	// issuedCredentialIDKey is the annotation that a TokenRequest adds with
	// the jti of the token it issued, as "JTI=<jti>".
	issuedCredentialIDKey = "authentication.kubernetes.io/issued-credential-id"

	// legacyIssuedCredentialIDKey is the same annotation as Kubernetes 1.29
	// named it; 1.30 renamed it.
	legacyIssuedCredentialIDKey = "authentication.k8s.io/issued-credential-id"
)

// The stages of a request, in the order the API server reaches them.
const (
	stageRequestReceived  = "RequestReceived"
	stageResponseStarted  = "ResponseStarted"
	stageResponseComplete = "ResponseComplete"
	stagePanic            = "Panic"
)

// stageRank orders the stages. A higher rank replaces a lower one.
var stageRank = map[string]int{
	stageRequestReceived:  1,
	stageResponseStarted:  2,
	stageResponseComplete: 3,
	stagePanic:            3,
}

// record is the part of an audit.k8s.io/v1 Event that the importer reads.
// Fields it does not declare, impersonatedUser among them, are not decoded.
//
// NOTE: the impersonated user is dropped. The token used is the
// impersonator's, which is the event's Subject, and audit.Event has no field
// for the identity it acted as.
type record struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string              `json:"username"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	SourceIPs      []string        `json:"sourceIPs"`
	UserAgent      string          `json:"userAgent"`
	ObjectRef      *objectRef      `json:"objectRef"`
	ResponseStatus *responseStatus `json:"responseStatus"`

	// The bodies are decoded only for a TokenRequest.
	RequestObject  json.RawMessage `json:"requestObject"`
	ResponseObject json.RawMessage `json:"responseObject"`

	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`

	// Items is set in an EventList.
	Items []json.RawMessage `json:"items"`
}

// objectRef is the part of an Event's objectRef that the importer reads.
type objectRef struct {
	Resource    string `json:"resource"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Subresource string `json:"subresource"`
}

// responseStatus is the part of an Event's responseStatus that the importer
// reads.
type responseStatus struct {
	Code int `json:"code"`
}

func (r *record) isList() bool { return r.Kind == "EventList" || r.Items != nil }

func (r *record) listName() string {
	if r.Kind != "" {
		return r.Kind
	}
	return "list"
}

// tokenRequest is the part of a TokenRequest body that the importer reads.
// status.token, the issued token, is deliberately not declared, so that the
// decoder skips it and no copy of it is made.
type tokenRequest struct {
	Spec struct {
		Audiences []string `json:"audiences"`
	} `json:"spec"`
	Status struct {
		ExpirationTimestamp string `json:"expirationTimestamp"`
	} `json:"status"`
}

// request is the events of one request as one of its stage records shows
// them.
type request struct {
	auditID string
	stage   string
	line    int
	item    int // index in an EventList on the line, or -1
	seq     int // the record's position in the file, set by stageTracker
	events  []audit.Event
}

func (r *request) final() bool {
	return r.stage == stageResponseComplete || r.stage == stagePanic
}

var errNestedList = errors.New("an EventList inside a list is not an audit event")

func decodeRecord(raw []byte) (*record, error) {
	if err := checkUTF8(raw); err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, describeDecodeError("", err)
	}
	return &r, nil
}

func decodeItems(raw []byte) ([]json.RawMessage, error) {
	if err := checkUTF8(raw); err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, describeDecodeError("", err)
	}
	return items, nil
}

// checkUTF8 rejects a record that is not valid UTF-8. JSON exchanged between
// systems must be UTF-8 (RFC 8259), so such a record is damaged, and
// encoding/json would hide the damage by replacing the bytes with U+FFFD.
func checkUTF8(raw []byte) error {
	if utf8.Valid(raw) {
		return nil
	}
	at := 0
	for at < len(raw) {
		r, size := utf8.DecodeRune(raw[at:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		at += size
	}
	return fmt.Errorf("invalid UTF-8 at byte %d: JSON must be UTF-8, so the record is damaged or was converted to another encoding", at)
}

// describeDecodeError rewrites an encoding/json error so that it names the
// field by its JSON path, prefixed with prefix, and the JSON type expected.
func describeDecodeError(prefix string, err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON at byte %d (%v): the line must hold one whole audit record", syntaxErr.Offset, err)
	case errors.As(err, &typeErr):
		field := prefix + typeErr.Field
		if field == "" {
			return fmt.Errorf("record is a JSON %s, want an object", typeErr.Value)
		}
		return fmt.Errorf("field %s is a JSON %s, want %s", field, typeErr.Value, describeType(typeErr.Type))
	default:
		return fmt.Errorf("invalid record: %w", err)
	}
}

// describeType names the JSON shape that decodes into t.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Struct, reflect.Pointer:
		return "an object"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + " values"
	case reflect.Slice:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "any JSON value"
		}
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	default:
		return t.String()
	}
}

// text returns s, or "" when s is the string "null", which some exporters
// write for a missing value.
func text(s string) string {
	if s == "null" {
		return ""
	}
	return s
}

// buildRequest checks r and builds the events of its request into req,
// whose earlier contents it replaces. It returns a skip reason when r is an
// audit record but not a token event, and an error when r cannot be read
// as an audit record.
func buildRequest(req *request, r *record, file string, line int) (skipReason string, err error) {
	auditID, stage, err := checkRecord(r)
	if err != nil {
		return "", err
	}
	*req = request{auditID: auditID, stage: stage, line: line, item: -1, events: req.events[:0]}

	jti, credentialReason, err := usedTokenID(r, auditID)
	if err != nil {
		return "", err
	}
	issued, issuanceReason, err := issuance(r, stage)
	if err != nil {
		return "", err
	}
	if jti == "" && issued == nil {
		if issuanceReason != "" {
			return issuanceReason, nil
		}
		return credentialReason, nil
	}

	// Context shared by both events.
	at, err := requestTime(r)
	if err != nil {
		return "", err
	}
	ip, err := clientIP(r)
	if err != nil {
		return "", err
	}
	base := audit.Event{
		Time:      at,
		Issuer:    Issuer,
		IP:        ip,
		UserAgent: text(r.UserAgent),
		Method:    text(r.Verb),
		Path:      text(r.RequestURI),
		TraceID:   auditID,
		Source:    source.Location(file, line),
	}
	if r.ResponseStatus != nil {
		base.Status = r.ResponseStatus.Code
	}

	// Each event is built in place in req.events, because an audit.Event
	// is large to copy.
	if jti != "" {
		req.events = append(req.events, base)
		e := &req.events[len(req.events)-1]
		e.ID = audit.NewID("k8saudit", auditID)
		e.Kind = audit.KindUsed
		e.TokenID = jti
		e.Subject = text(r.User.Username)
	}
	if issued != nil {
		req.events = append(req.events, base)
		e := &req.events[len(req.events)-1]
		e.ID = audit.NewID("k8saudit", auditID, "issued")
		e.Kind = audit.KindIssued
		e.TokenID = issued.jti
		e.Subject = issued.subject
		e.Audience = issued.audience
		e.ExpiresAt = issued.expiresAt
	}

	for i := range req.events {
		if err := req.events[i].Prepare(); err != nil {
			return "", fmt.Errorf("request %s: %s event is invalid: %w", auditID, req.events[i].Kind, err)
		}
	}
	return "", nil
}

// checkRecord verifies that r is an audit event and returns its auditID and
// stage.
func checkRecord(r *record) (auditID, stage string, err error) {
	if r.Kind != "" && r.Kind != "Event" {
		return "", "", fmt.Errorf("kind %q is not an audit Event or EventList", r.Kind)
	}
	if r.APIVersion != "" && !strings.HasPrefix(r.APIVersion, "audit.k8s.io/") {
		return "", "", fmt.Errorf("apiVersion %q is not audit.k8s.io/v1", r.APIVersion)
	}

	auditID = text(r.AuditID)
	if auditID == "" {
		return "", "", errors.New("auditID is missing, so the record cannot be matched with the other stages of its request")
	}
	stage = text(r.Stage)
	if stage == "" {
		return "", "", fmt.Errorf("request %s: stage is missing", auditID)
	}
	if _, ok := stageRank[stage]; !ok {
		return "", "", fmt.Errorf("request %s: stage %q is not one of RequestReceived, ResponseStarted, ResponseComplete, Panic", auditID, stage)
	}
	return auditID, stage, nil
}

// usedTokenID returns the jti of the service-account token that made the
// request, or a reason why no token was used.
func usedTokenID(r *record, auditID string) (jti, skipReason string, err error) {
	user := text(r.User.Username)
	if user == "" {
		user = "an unnamed user"
	}

	var credential string
	if ids := r.User.Extra[credentialIDKey]; len(ids) > 0 {
		credential = text(ids[0])
	}
	if credential == "" {
		// Skip reasons are counted by their text, so they name the user
		// but not the request, which would make each one unique.
		return "", "a request by " + user + " has no credential id, so no service-account token was used", nil
	}

	kind, value, _ := strings.Cut(credential, "=")
	switch kind {
	case "JTI":
		if value == "" {
			return "", "", fmt.Errorf("request %s: credential id %q has an empty jti", auditID, credential)
		}
		return value, "", nil
	case "X509SHA256":
		return "", "a request by " + user + " was authenticated with an X.509 client certificate, not a token", nil
	default:
		return "", fmt.Sprintf("a request by %s has credential id kind %q, which is not a JWT id", user, kind), nil
	}
}

// issuedToken describes the token that a TokenRequest record issued.
type issuedToken struct {
	jti       string
	subject   string
	audience  []string
	expiresAt time.Time
}

// issuance reads the token issued by a TokenRequest record. It returns nil
// and no reason for a record that is not a final stage of a TokenRequest,
// and nil with a reason for a TokenRequest that issued nothing known.
func issuance(r *record, stage string) (*issuedToken, string, error) {
	ref := r.ObjectRef
	if ref == nil || text(ref.Resource) != "serviceaccounts" || text(ref.Subresource) != "token" || text(r.Verb) != "create" {
		return nil, "", nil
	}
	// The annotation is added when the token is issued, so the earlier
	// stages never carry it.
	if stage != stageResponseComplete && stage != stagePanic {
		return nil, "", nil
	}

	account := text(ref.Namespace) + "/" + text(ref.Name)
	if r.ResponseStatus != nil && (r.ResponseStatus.Code < 200 || r.ResponseStatus.Code > 299) {
		return nil, fmt.Sprintf("TokenRequest for %s failed with status %d, so no token was issued", account, r.ResponseStatus.Code), nil
	}
	id := text(r.Annotations[issuedCredentialIDKey])
	if id == "" {
		id = text(r.Annotations[legacyIssuedCredentialIDKey])
	}
	if id == "" {
		return nil, fmt.Sprintf("TokenRequest for %s has no annotation %s (the API server adds it from Kubernetes 1.29 with the ServiceAccountTokenJTI feature)", account, issuedCredentialIDKey), nil
	}

	kind, jti, _ := strings.Cut(id, "=")
	if kind != "JTI" || jti == "" {
		return nil, "", fmt.Errorf("annotation %s %q is not JTI=<jti>", issuedCredentialIDKey, id)
	}
	if text(ref.Namespace) == "" || text(ref.Name) == "" {
		return nil, "", fmt.Errorf("TokenRequest objectRef has no namespace or name, so the service account of token %s is unknown", jti)
	}
	issued := &issuedToken{
		jti:     jti,
		subject: "system:serviceaccount:" + text(ref.Namespace) + ":" + text(ref.Name),
	}

	req, err := decodeTokenRequest("requestObject.", r.RequestObject)
	if err != nil {
		return nil, "", err
	}
	resp, err := decodeTokenRequest("responseObject.", r.ResponseObject)
	if err != nil {
		return nil, "", err
	}
	// The response repeats the spec with the defaults applied, so it names
	// the audience when the request left it to the API server.
	issued.audience = req.Spec.Audiences
	if len(issued.audience) == 0 {
		issued.audience = resp.Spec.Audiences
	}
	if exp := text(resp.Status.ExpirationTimestamp); exp != "" {
		t, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			return nil, "", fmt.Errorf("field responseObject.status.expirationTimestamp %q is not an RFC 3339 time", exp)
		}
		issued.expiresAt = t.UTC()
	}
	return issued, "", nil
}

// decodeTokenRequest decodes a request or response body, which is absent
// below the RequestResponse audit level.
func decodeTokenRequest(field string, raw json.RawMessage) (tokenRequest, error) {
	var tr tokenRequest
	if len(raw) == 0 || string(raw) == "null" {
		return tr, nil
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		return tokenRequest{}, describeDecodeError(field, err)
	}
	return tr, nil
}

// requestTime returns requestReceivedTimestamp, or stageTimestamp when the
// former is absent.
func requestTime(r *record) (time.Time, error) {
	field, value := "requestReceivedTimestamp", text(r.RequestReceivedTimestamp)
	if value == "" {
		field, value = "stageTimestamp", text(r.StageTimestamp)
	}
	if value == "" {
		return time.Time{}, fmt.Errorf("request %s: requestReceivedTimestamp and stageTimestamp are both missing, so the event has no time", r.AuditID)
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("request %s: field %s %q is not an RFC 3339 time such as 2025-05-19T09:44:36.348992Z", r.AuditID, field, value)
	}
	return t.UTC(), nil
}

// clientIP returns the first of sourceIPs. The API server lists the
// addresses of X-Forwarded-For first, then X-Real-Ip, then the connection's
// peer, so the first is the original client as the proxies reported it. Only
// the last one was not set by the client.
//
// NOTE: audit.Event has one IP, so the proxies after the first address are
// dropped.
func clientIP(r *record) (netip.Addr, error) {
	if len(r.SourceIPs) == 0 || text(r.SourceIPs[0]) == "" {
		return netip.Addr{}, nil
	}
	addr, err := netip.ParseAddr(r.SourceIPs[0])
	switch {
	case err == nil:
		return addr.Unmap(), nil
	case source.IsGUID(r.SourceIPs[0]):
		// Anonymized exports put a GUID where the address was; the
		// request is still a real one, without an address.
		return netip.Addr{}, nil
	}
	return netip.Addr{}, fmt.Errorf("request %s: sourceIPs[0] %q is not an IP address", r.AuditID, r.SourceIPs[0])
}
