package detect

// Keys of the engine's log lines.
const (
	logRule     = "rule"
	logEventID  = "event_id"
	logFailures = "failures"
	logError    = "error"
)
