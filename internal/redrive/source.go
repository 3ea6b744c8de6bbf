package redrive

import "context"

// Source yields on-failure records, one [Message] each, and removes or
// keeps them as told.
type Source interface {
	// Next returns the next message, or io.EOF when none is left.
	Next(ctx context.Context) (Message, error)
	// Done removes m from the source: its batch was redriven.
	Done(ctx context.Context, m Message) error
	// Keep leaves m in the source for another redrive.
	Keep(ctx context.Context, m Message) error
	// Close ends the reading: the messages neither done nor kept stay in
	// the source.
	Close(ctx context.Context) error
}

// Message is one on-failure record.
type Message struct {
	// Body is the record, Lambda's on-failure invocation record JSON.
	Body []byte
	// Where names the message in output: "line 3", "message ID".
	Where string

	line    int     // index in FileSource.lines
	receipt *string // SQS receipt handle
}
