package entra

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// The Log Analytics tables that the importer reads, each with the
// diagnostic-settings category of the records that fill it.
var tableCategories = [...]struct{ table, category string }{
	{"SigninLogs", CategorySignIn},
	{"AADNonInteractiveUserSignInLogs", CategoryNonInteractiveUserSignIn},
	{"AADServicePrincipalSignInLogs", CategoryServicePrincipalSignIn},
	{"AADManagedIdentitySignInLogs", CategoryManagedIdentitySignIn},
	{"MicrosoftGraphActivityLogs", CategoryGraphActivity},
}

// tableCategory returns the category of the records in the Log Analytics
// table named s, or "" when the importer does not read that table. Case is
// ignored.
func tableCategory(s string) string {
	for _, t := range tableCategories {
		if strings.EqualFold(s, t.table) {
			return t.category
		}
	}
	return ""
}

// logAnalyticsRow reports whether v is a row of a Log Analytics table, and
// returns the category of its records. category is "" for a row of a table
// that the importer does not read, and table then names that table.
//
// The Type column names the table, and some queries keep the Category
// column of the sign-in tables instead. A query that projects neither
// still leaves TimeGenerated, with SignInActivityId in a Graph activity
// row or UniqueTokenIdentifier in a sign-in row.
func logAnalyticsRow(v *fastjson.Value) (category, table string, ok bool) {
	hasTimeGenerated := v.Exists("TimeGenerated")
	if table = text(v.Get("Type")); table != "" {
		if category = tableCategory(table); category != "" {
			return category, table, true
		}
		if hasTimeGenerated {
			return "", table, true
		}
	}
	if category = knownCategory(text(v.Get("Category"))); category != "" {
		return category, category, true
	}
	if !hasTimeGenerated {
		return "", "", false
	}
	switch {
	case v.Exists("SignInActivityId"):
		return CategoryGraphActivity, CategoryGraphActivity, true
	case v.Exists("UniqueTokenIdentifier"):
		category = principalCategory(text(v.Get("UserId")), text(v.Get("ServicePrincipalId")), v.Get("IsInteractive"))
		return category, category, true
	}
	return "", "", false
}

// logAnalyticsRecord converts one row of a Log Analytics table.
func (p *parser) logAnalyticsRecord(line int, row *fastjson.Value, category, table string) (e audit.Event, skip string, err error) {
	switch category {
	case "":
		return e, fmt.Sprintf("table %s: not a sign-in or Microsoft Graph activity row", shorten(table)), nil
	case CategoryGraphActivity:
		return p.logAnalyticsGraphActivity(line, row)
	default:
		return p.logAnalyticsSignIn(line, row, category)
	}
}

// logAnalyticsSignIn converts a row of one of the sign-in tables. Its
// columns carry the values of the diagnostic record's properties under
// PascalCase names, and the event is made as signIn makes it, so that the
// same sign-in gets the same event from either shape.
func (p *parser) logAnalyticsSignIn(line int, row *fastjson.Value, category string) (e audit.Event, skip string, err error) {
	id := text(row.Get("Id"))
	if id == "" {
		return e, "", fmt.Errorf("field Id is missing, so the sign-in cannot be given a stable event ID")
	}

	// The Status column goes first, because reading LocationDetails may
	// parse a string with the same parser.
	outcome := signInOutcome{category: category}
	codeFound := false
	if status := p.dynamicObject(row.Get("Status")); status != nil {
		outcome.errorCode, codeFound = integer(status.Get("errorCode"))
		outcome.failure = text(status.Get("failureReason"))
	} else {
		// The service-principal and managed-identity tables have no
		// Status column, and give the failure in ResultDescription.
		outcome.failure = text(row.Get("ResultDescription"))
	}
	if !codeFound {
		outcome.errorCode, codeFound = integer(row.Get("ResultType"))
	}
	if !codeFound {
		return e, "", resultTypeError(row.Get("ResultType"))
	}
	outcome.access = text(row.Get("ConditionalAccessStatus"))
	outcome.tokenID = tokenIdentifier(text(row.Get("UniqueTokenIdentifier")))

	at, timeErr := eventTime("", row, "CreatedDateTime", "TimeGenerated")
	outcome.timeErr = timeErr

	e = audit.Event{
		ID:   audit.NewID(Name, category, id),
		Time: at,
		Action: signInAction(category, text(row.Get("IncomingTokenType")),
			text(row.Get("AuthenticationProtocol")), text(row.Get("ClientCredentialType"))),
		SessionID: text(row.Get("SessionId")),
		Issuer:    p.tenantIssuer(aadTenant(row)),
		Subject:   firstText(row, "UserId", "ServicePrincipalId"),
		ClientID:  text(row.Get("AppId")),
		IP:        address(text(row.Get("IPAddress"))),
		UserAgent: text(row.Get("UserAgent")),
		Geo:       geo(p.dynamicObject(row.Get("LocationDetails")), row.Get("AutonomousSystemNumber")),
		TraceID:   text(row.Get("CorrelationId")),
		Source:    source.Location(p.file, line),
	}
	// ResourceIdentity is what the diagnostic record calls resourceId: the
	// application id of the resource.
	if resource := firstText(row, "ResourceIdentity", "ResourceDisplayName"); resource != "" {
		e.Audience = []string{resource}
	}
	return completeSignIn(e, outcome)
}

// resultTypeError explains why a sign-in row has no error code: neither
// Status.errorCode nor ResultType contains an integer.
func resultTypeError(resultType *fastjson.Value) error {
	if s := text(resultType); s != "" {
		return fmt.Errorf("field ResultType %s is not an integer error code, and Status.errorCode is missing, so it is unknown whether the sign-in issued a token",
			strconv.Quote(shorten(s)))
	}
	return fmt.Errorf("fields Status.errorCode and ResultType are missing, so it is unknown whether the sign-in issued a token")
}

// logAnalyticsGraphActivity converts a row of the MicrosoftGraphActivityLogs
// table, as graphActivity converts a diagnostic record, so that the same
// request gets the same event from either shape.
func (p *parser) logAnalyticsGraphActivity(line int, row *fastjson.Value) (e audit.Event, skip string, err error) {
	requestID := text(row.Get("RequestId"))
	if requestID == "" {
		return e, "", fmt.Errorf("field RequestId is missing, so the request cannot be given a stable event ID")
	}
	tokenID := tokenIdentifier(text(row.Get("SignInActivityId")))
	if tokenID == "" {
		return e, "Graph request has no signInActivityId, so it names no token", nil
	}
	at, err := eventTime("", row, "TimeGenerated")
	if err != nil {
		return e, "", err
	}

	e = audit.Event{
		ID:        audit.NewID(Name, CategoryGraphActivity, requestID),
		Time:      at,
		Kind:      audit.KindUsed,
		Action:    CategoryGraphActivity,
		TokenID:   tokenID,
		Issuer:    p.tenantIssuer(aadTenant(row)),
		Subject:   firstText(row, "UserId", "ServicePrincipalId", "AppId"),
		ClientID:  text(row.Get("AppId")),
		SessionID: text(row.Get("SessionId")),
		Scopes:    fields(firstText(row, "Scopes", "Roles")),
		IssuedAt:  parseIssuedAt(text(row.Get("TokenIssuedAt"))),
		IP:        address(text(row.Get("IPAddress"))),
		UserAgent: text(row.Get("UserAgent")),
		Method:    text(row.Get("RequestMethod")),
		Path:      text(row.Get("RequestUri")),
		TraceID:   requestID,
		Source:    source.Location(p.file, line),
	}
	if status, ok := integer(row.Get("ResponseStatusCode")); ok {
		setGraphStatus(&e, status)
	}
	return e, "", nil
}

// aadTenant returns the Entra tenant of a row: the AADTenantId column of
// the sign-in tables, or AadTenantId of MicrosoftGraphActivityLogs. The
// TenantId column is not the Entra tenant but the Log Analytics workspace,
// so a row without those columns names no issuer.
func aadTenant(row *fastjson.Value) []byte {
	if tenant := textBytes(row.Get("AADTenantId")); tenant != nil {
		return tenant
	}
	return textBytes(row.Get("AadTenantId"))
}

// dynamicObject returns the object in v, a column such as Status or
// LocationDetails. Some tables type these columns as dynamic, which exports
// write as a JSON object, and others as string, which holds the object's
// JSON text and is parsed here. AADNonInteractiveUserSignInLogs types both
// as string. It returns nil when v contains neither, such as an empty
// string or text that is not a JSON object, because these columns are
// optional. An object parsed from text is valid until the next call.
func (p *parser) dynamicObject(v *fastjson.Value) *fastjson.Value {
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeObject:
		return v
	case fastjson.TypeString:
		s := bytes.TrimSpace(v.GetStringBytes())
		if len(s) == 0 || s[0] != '{' {
			return nil
		}
		// fastjson rejects text nested deeper than fastjson.MaxDepth
		// levels, so a hostile string cannot exhaust the stack.
		obj, err := p.dynamic.ParseBytes(s)
		if err != nil || obj.Type() != fastjson.TypeObject {
			return nil
		}
		return obj
	default:
		return nil
	}
}
