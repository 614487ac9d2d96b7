package server

// The keys of the server's log attributes.
const (
	logComponent = "component"
	logRequestID = "request_id"
	logMethod    = "method"
	logPath      = "path"
	logCode      = "code"
	logError     = "error"
	logKeyID     = "key_id"
	logAddr      = "addr"
	logEvents    = "events"
	logDropped   = "dropped"
	logAnomalies = "anomalies"

	logRevocationSeq = "revocation_seq" // the store position after which revocations are read
	logSkipped       = "skipped"        // lines of a repeated message not written since the last one
	logClient        = "client"         // the client address of a request
	logPeer          = "peer"           // the trusted proxy that forwarded a request, when it is not the client
	logFailedReads   = "failed_reads"   // store reads that failed in a row before one succeeded
)
