package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Envelope limits and version.
const (
	// Version is the envelope version this package writes and reads.
	Version = 1
	// MaxMessageBytes is the largest SNS message body
	// (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
	MaxMessageBytes = 256 << 10
	// maxDedupID is the longest MessageDeduplicationId.
	maxDedupID = 128
)

// Errors of envelopes.
var (
	// ErrBadEnvelope is wrapped by DecodeEnvelope's errors.
	ErrBadEnvelope = errors.New("malformed envelope")
	// ErrVersion is an envelope of a version this package does not read.
	ErrVersion = errors.New("unsupported envelope version")
)

// Event names, as in DynamoDB Streams records.
const (
	EventInsert = "INSERT"
	EventModify = "MODIFY"
	EventRemove = "REMOVE"
)

// Envelope is the body of one message: one stream record.
type Envelope struct {
	// V is the envelope version (Version).
	V int `json:"v"`
	// Event is the record's eventName: INSERT, MODIFY or REMOVE.
	Event string `json:"event"`
	// Keys are the item's key attributes in DynamoDB JSON.
	Keys json.RawMessage `json:"keys"`
	// NewImage is the item after the change in DynamoDB JSON (INSERT and
	// MODIFY, unless KeysOnly).
	NewImage json.RawMessage `json:"newImage,omitempty"`
	// KeysOnly says NewImage was left out because the message would exceed
	// MaxMessageBytes: the consumer re-reads the item from TableARN.
	KeysOnly bool `json:"keysOnly,omitempty"`
	// OldImage is the item before the change in DynamoDB JSON (MODIFY and
	// REMOVE of a NEW_AND_OLD_IMAGES stream), for the apply end's rule set.
	OldImage json.RawMessage `json:"oldImage,omitempty"`
	// OldImageDropped says OldImage was left out because the message would
	// exceed MaxMessageBytes; it is dropped before NewImage is.
	OldImageDropped bool `json:"oldImageDropped,omitempty"`
	// TTL says the record is a REMOVE by DynamoDB's TTL service (its
	// userIdentity), for the rule set's ttl_deletes policy.
	TTL bool `json:"ttl,omitempty"`
	// Seq is the record's stream sequence number.
	Seq string `json:"seq"`
	// EventID is the record's eventID.
	EventID string `json:"eventId,omitempty"`
	// StreamARN is the source stream's ARN (the record's eventSourceARN).
	StreamARN string `json:"streamArn,omitempty"`
	// TableARN is the source table's ARN.
	TableARN string `json:"tableArn,omitempty"`
	// Created is the approximate creation time in Unix milliseconds (0 if unknown).
	Created int64 `json:"created,omitempty"`
}

// Encode returns the envelope's JSON. When the message would exceed
// MaxMessageBytes it leaves out the old image first (OldImageDropped), then
// the new image too (KeysOnly), and e says what was sent.
func (e *Envelope) Encode() ([]byte, error) {
	e.V = Version
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	if len(b) <= MaxMessageBytes {
		return b, nil
	}
	small := *e
	if len(small.OldImage) > 0 {
		small.OldImage, small.OldImageDropped = nil, true
		if b, err = json.Marshal(&small); err != nil {
			return nil, fmt.Errorf("encode envelope: %w", err)
		}
		if len(b) <= MaxMessageBytes {
			*e = small
			return b, nil
		}
	}
	if len(small.NewImage) == 0 {
		*e = small
		return b, nil
	}
	small.NewImage, small.KeysOnly = nil, true
	if b, err = json.Marshal(&small); err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	*e = small
	return b, nil
}

// DecodeEnvelope parses and checks a message body.
func DecodeEnvelope(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrBadEnvelope, err)
	}
	if e.V != Version {
		return Envelope{}, fmt.Errorf("%w %d (want %d)", ErrVersion, e.V, Version)
	}
	if err := replicate.ValidateSeq(e.Seq); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrBadEnvelope, err)
	}
	switch e.Event {
	case EventInsert, EventModify:
		if len(e.NewImage) == 0 && !e.KeysOnly {
			return Envelope{}, fmt.Errorf("%w: %s without newImage", ErrBadEnvelope, e.Event)
		}
	case EventRemove:
	default:
		return Envelope{}, fmt.Errorf("%w: event %q", ErrBadEnvelope, e.Event)
	}
	if len(e.Keys) == 0 {
		return Envelope{}, fmt.Errorf("%w: no keys", ErrBadEnvelope)
	}
	return e, nil
}

// CreatedTime returns Created as a time (zero if unknown).
func (e *Envelope) CreatedTime() time.Time {
	if e.Created <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.Created)
}

// GroupID returns the MessageGroupId of an item: the hex SHA-256 of its
// replicate.KeyID (64 characters; SNS allows 128). Key values never appear
// in message attributes this way.
func GroupID(keyID string) string {
	sum := sha256.Sum256([]byte(keyID))
	return hex.EncodeToString(sum[:])
}

// DedupID returns the MessageDeduplicationId of a record: its eventID, or,
// when that is missing or unusable, a hash of the stream ARN and sequence
// number.
func DedupID(eventID, streamARN, seq string) string {
	if eventID != "" && len(eventID) <= maxDedupID && strings.IndexFunc(eventID, badDedupRune) < 0 {
		return eventID
	}
	sum := sha256.Sum256([]byte(streamARN + "\x00" + seq))
	return hex.EncodeToString(sum[:])
}

// badDedupRune reports characters a deduplication id may not hold: it takes
// alphanumerics and punctuation (ASCII 33-126).
func badDedupRune(r rune) bool { return r < 33 || r > 126 }

// TableARN returns the table ARN of a stream ARN
// ("arn:…:table/T/stream/2024-…" → "arn:…:table/T"), or "" if streamARN is
// not one.
func TableARN(streamARN string) string {
	if i := strings.Index(streamARN, "/stream/"); i > 0 {
		return streamARN[:i]
	}
	return ""
}
