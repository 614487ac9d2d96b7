package enrich

// Log attribute keys, kept in one place so that every line of this package
// names the same thing the same way.
const (
	keyComponent = "component"
	keyKind      = "kind"
	keyName      = "name"
	keyPath      = "path"
	keyEntries   = "entries"
	keyBadLines  = "bad_lines"
	keyLocation  = "location" // "file:line"
	keyText      = "text"
	keyReason    = "reason"
	keyIP        = "ip"
	keyError     = "error"
)
