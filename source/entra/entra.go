// Package entra imports Microsoft Entra ID sign-in logs and Microsoft Graph
// activity logs as token events.
//
// It reads three shapes of input, in any layout that package jsonrecords
// reads (JSON lines, a JSON array, or an object that wraps the records in
// "records" or "value"):
//
//   - Azure diagnostic-settings records, as a storage account or an event
//     hub receives them: objects with "time", "category", "tenantId" and a
//     "properties" object. The category names the log: SignInLogs,
//     NonInteractiveUserSignInLogs, ServicePrincipalSignInLogs,
//     ManagedIdentitySignInLogs or MicrosoftGraphActivityLogs.
//   - Sign-in objects of the Microsoft Graph API (/auditLogs/signIns), which
//     are the properties of a sign-in record without the wrapper, and which
//     a page of results lists under "value".
//   - Rows of Log Analytics tables, as the result of a KQL query in Log
//     Analytics or Microsoft Sentinel is exported to JSON: one object per
//     row, with the table's PascalCase columns. The Type column names the
//     table: SigninLogs, AADNonInteractiveUserSignInLogs,
//     AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs or
//     MicrosoftGraphActivityLogs. Without Type, the Category column of the
//     sign-in tables names the category. Without either, a row with
//     TimeGenerated and SignInActivityId is a Graph request, and one with
//     TimeGenerated and UniqueTokenIdentifier is a sign-in, whose category
//     is guessed from IsInteractive and the kind of principal.
//
// A sign-in becomes one event, whose ID is audit.NewID("entra", category,
// id), where id is the sign-in's properties.id:
//
//   - A sign-in that succeeded (status.errorCode 0) issued a token: an
//     "issued" event of its uniqueTokenIdentifier (the uti claim). The event
//     carries the sessionId, the user (or the service principal), the
//     application, the resource as the audience and the tenant as the
//     issuer. It also carries the client's address, user agent and
//     location, and the conditional-access outcome as the reason. Its
//     action is the category, followed by incomingTokenType,
//     authenticationProtocol and clientCredentialType where they are given
//     and not "none", such as "SignInLogs authenticationProtocol=deviceCode".
//     A successful sign-in without uniqueTokenIdentifier (older records)
//     names no token: it becomes a "session" event of its sessionId, or is
//     skipped when it has none.
//   - A sign-in that failed or was interrupted issued no token: a "session"
//     event of its sessionId, with the same action, whose reason is the
//     error code and the failure reason. Without a sessionId it is skipped.
//
// A Microsoft Graph activity record is one request made with an access
// token. It becomes a "used" event, or a "rejected" event when Graph
// returned 401 (a 403 comes after Graph accepted the token, so it is a use
// with that status), with ID audit.NewID("entra",
// "MicrosoftGraphActivityLogs", requestId). Its token is the
// signInActivityId, which is the uniqueTokenIdentifier of the sign-in that
// issued the token, so the request and the sign-in are events of one token.
// Its session is the token's sid claim (C_Sid). Microsoft documents that
// the sid of every token minted from one sign-in session is the sessionId
// of the sign-in logs (Microsoft Learn, "Track and investigate identity
// activities with linkable identifiers"). A record without signInActivityId
// is skipped.
//
// A row of a Log Analytics table holds the values of a diagnostic record's
// properties under PascalCase names, and is converted as that record is,
// to an event with the same ID, token and fields. The sign-in's Id and the
// request's RequestId make the ID. The exceptions are these. The Entra
// tenant, and so the issuer, comes from AADTenantId (AadTenantId in
// MicrosoftGraphActivityLogs), because the TenantId column is the ID of the
// Log Analytics workspace. The audience is ResourceIdentity, the
// resource's application ID, else ResourceDisplayName. A Graph request's
// session is the SessionId column, and its token's issue time is
// TokenIssuedAt. A sign-in's time is CreatedDateTime, else TimeGenerated.
// Its error code and failure reason come from the Status column, else from
// ResultType and ResultDescription, which the service-principal and
// managed-identity tables have in place of Status. The Status and
// LocationDetails columns are read both as JSON objects, as SigninLogs
// types them, and as strings that contain an object's JSON text, as
// AADNonInteractiveUserSignInLogs types them. Text that is not a JSON
// object counts as an empty column.
//
// The columns were checked against Microsoft's Azure Monitor table
// reference (repository MicrosoftDocs/azure-reference-other, versions of
// February and July 2024). SigninLogs and AADNonInteractiveUserSignInLogs
// list TimeGenerated, CreatedDateTime, Id, UniqueTokenIdentifier, UserId,
// ServicePrincipalId, AppId, ResourceIdentity, ResourceDisplayName,
// IPAddress, UserAgent, LocationDetails, AutonomousSystemNumber,
// ResultType, ResultDescription, Status, ConditionalAccessStatus,
// AuthenticationProtocol, CorrelationId, Category, TenantId and Type, and
// SigninLogs lists AADTenantId too. AADServicePrincipalSignInLogs and
// AADManagedIdentitySignInLogs list TimeGenerated, Id,
// UniqueTokenIdentifier, ServicePrincipalId, AppId, ResourceIdentity,
// ResourceDisplayName, IPAddress, LocationDetails, ResultType,
// ResultDescription, ConditionalAccessStatus, CorrelationId, Category,
// TenantId and Type. MicrosoftGraphActivityLogs lists TimeGenerated,
// RequestId, SignInActivityId, RequestMethod, RequestUri,
// ResponseStatusCode, IPAddress, UserAgent, UserId, ServicePrincipalId,
// AppId, Scopes, Roles, TokenIssuedAt, AadTenantId, TenantId and Type. The
// current pages on learn.microsoft.com and docs.azure.cn add SessionId to
// MicrosoftGraphActivityLogs, and AADTenantId, CreatedDateTime,
// AutonomousSystemNumber and ClientCredentialType to
// AADServicePrincipalSignInLogs.
//
// NOTE: the sign-in tables' SessionId and IncomingTokenType columns are
// read under the names that the diagnostic records use, but no version of
// the reference that was checked lists them. A row without SessionId
// yields no session event for a failed sign-in.
//
// Records of other categories (AuditLogs, RiskyUsers and more) and rows of
// other tables are skipped with the category or the table in the reason.
// These are rejected with file:line and the reason: a record that is not a
// JSON object, has no category and is neither a Graph sign-in object nor a
// Log Analytics row, lacks the id, the time or a sign-in's error code, or
// has a time that is not RFC 3339. Optional fields that hold a placeholder
// ("null", "-", the all-zero GUID, a GUID where the address should be,
// coordinates 0/0) are left empty, and the record is kept.
package entra

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Name is the name of the format, and the first part of every event ID.
const Name = "entra"

// The diagnostic-settings categories that the importer reads.
const (
	CategorySignIn                   = "SignInLogs"
	CategoryNonInteractiveUserSignIn = "NonInteractiveUserSignInLogs"
	CategoryServicePrincipalSignIn   = "ServicePrincipalSignInLogs"
	CategoryManagedIdentitySignIn    = "ManagedIdentitySignInLogs"
	CategoryGraphActivity            = "MicrosoftGraphActivityLogs"
)

var categories = [...]string{
	CategorySignIn,
	CategoryNonInteractiveUserSignIn,
	CategoryServicePrincipalSignIn,
	CategoryManagedIdentitySignIn,
	CategoryGraphActivity,
}

// knownCategory returns the canonical spelling of the category s, or "" when
// the importer does not read it. Case is ignored.
func knownCategory(s string) string {
	for _, c := range categories {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	return ""
}

// parser holds the state of one Parse call. It is not safe for concurrent
// use.
type parser struct {
	file string
	h    source.Handler
	json fastjson.Parser

	// dynamic parses the dynamic columns of Log Analytics rows that an
	// export wrote as JSON text. Parsing them with the json parser would
	// invalidate the values of the row.
	dynamic fastjson.Parser

	// The tenant of the last record, and its issuer.
	lastTenant, lastIssuer string
}

// record converts one JSON object record that starts at line and hands the
// result to the Handler. It returns only the Handler's error.
func (p *parser) record(line int, raw []byte) error {
	v, err := p.json.ParseBytes(raw)
	if err != nil {
		p.reject(line, "invalid JSON, so the record cannot be read")
		return nil
	}
	if v.Type() != fastjson.TypeObject {
		p.reject(line, fmt.Sprintf("record is a JSON %s, want an object", v.Type()))
		return nil
	}

	e, skip, err := p.convert(line, v)
	switch {
	case err != nil:
		p.reject(line, err.Error())
		return nil
	case skip != "":
		p.h.Skip(line, skip)
		return nil
	}

	if err := e.Prepare(); err != nil {
		p.reject(line, fmt.Sprintf("the %s event is invalid: %v", e.Kind, err))
		return nil
	}
	return p.h.Event(e)
}

// convert finds which kind of record v is and converts it.
func (p *parser) convert(line int, v *fastjson.Value) (e audit.Event, skip string, err error) {
	categoryValue := text(v.Get("category"))
	props := v.Get("properties")
	if categoryValue == "" {
		if category, table, ok := logAnalyticsRow(v); ok {
			return p.logAnalyticsRecord(line, v, category, table)
		}
		if props == nil && v.Get("createdDateTime") != nil {
			return p.signIn(line, v, v, "", graphAPICategory(v))
		}
		return e, "", fmt.Errorf("field category is missing, and the record is not a Microsoft Graph sign-in object " +
			"(which has createdDateTime) or a Log Analytics row (which has Type or TimeGenerated)")
	}

	category := knownCategory(categoryValue)
	if category == "" {
		return e, fmt.Sprintf("category %s: not a sign-in or Microsoft Graph activity record", shorten(categoryValue)), nil
	}
	if props == nil || props.Type() == fastjson.TypeNull {
		return e, "", fmt.Errorf("field properties is missing, so the %s record has no content", category)
	}
	if props.Type() != fastjson.TypeObject {
		return e, "", fmt.Errorf("field properties is a JSON %s, want an object", props.Type())
	}

	if category == CategoryGraphActivity {
		return p.graphActivity(line, v, props)
	}
	return p.signIn(line, v, props, "properties.", category)
}

func (p *parser) reject(line int, reason string) {
	p.h.Reject(&source.RecordError{File: p.file, Line: line, Reason: reason})
}
