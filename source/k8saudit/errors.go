package k8saudit

import "errors"

// ErrUnreadableDocument is returned by Parse when a multi-line JSON document
// (an EventList or events written by a pretty-printer) breaks off: its JSON
// is invalid or one of its values is larger than source.MaxLineBytes. Unlike
// a JSON-lines file, such a document has no line boundary to resume from, so
// the records after the break are not read. The offending record is also
// reported to the Handler as a rejection.
var ErrUnreadableDocument = errors.New("k8saudit: rest of document unreadable")
