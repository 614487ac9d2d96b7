package entra

import (
	"context"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/source/jsonrecords"
)

// Format returns the importer of Entra ID sign-in logs and Microsoft Graph
// activity logs, named "entra". The package documentation lists what
// becomes which event. Events come in file order.
func Format() source.Format {
	return source.Format{Name: Name, Detect: Detect, Parse: Parse}
}

// Parse reads one file of Entra records to its end, as source.Format
// documents. Each record that starts at a line is located by that line:
// the item of a {"records": [...]} or {"value": [...]} wrapper by the line
// where the item starts.
func Parse(ctx context.Context, in source.Input, h source.Handler) error {
	p := &parser{file: in.Name, h: h}
	return jsonrecords.Read(ctx, in, h, p.record)
}

// Detect reports whether sample, the first bytes of a file, starts with an
// Entra record. That is a diagnostic-settings record whose category is one
// of those that Format reads, or a row of one of the Log Analytics tables
// that Format reads, or a sign-in object of the Microsoft Graph API. Such an
// object has no category, but has userPrincipalName, appId, and
// uniqueTokenIdentifier or createdDateTime. Only the first record of the
// sample decides.
func Detect(sample []byte) bool {
	raw, ok := jsonrecords.First(sample)
	if !ok {
		return false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return false
	}
	if category := v.Get("category"); category != nil {
		return knownCategory(text(category)) != ""
	}
	if category, _, ok := logAnalyticsRow(v); ok {
		return category != ""
	}
	return (v.Exists("uniqueTokenIdentifier") || v.Exists("createdDateTime")) &&
		v.Exists("userPrincipalName") && v.Exists("appId")
}
