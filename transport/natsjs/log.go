package natsjs

// Log attribute keys of the package.
const (
	keyComponent  = "component"
	keyStream     = "stream"
	keyConsumer   = "consumer"
	keySubject    = "subject"
	keySequence   = "stream_sequence"
	keyEventID    = "event_id"
	keyEvents     = "events"
	keyReason     = "reason"
	keyError      = "error"
	keyBackoff    = "backoff"
	keyFailures   = "failures"
	keyStored     = "stored"
	keyDuplicate  = "duplicates"
	keyTerminated = "terminated"
)
