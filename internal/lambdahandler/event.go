package lambdahandler

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Errors about a record's shape, wrapped in the record's failure. The first
// three are replicate's (replicate.DecodeRecord sets them), named here too
// for the callers of this package.
var (
	// ErrUnknownEvent is a record whose eventName is not INSERT, MODIFY or REMOVE.
	ErrUnknownEvent = replicate.ErrUnknownEvent
	// ErrNoNewImage is an INSERT or MODIFY without NewImage.
	ErrNoNewImage = replicate.ErrNoNewImage
	// ErrBadKeys is a record whose Keys are missing or malformed.
	ErrBadKeys = replicate.ErrBadKeys
	// ErrBadEvent is an event that cannot be read at all; the whole batch fails.
	ErrBadEvent = errors.New("malformed stream event")
)

// Event sources, as in each record's eventSource.
const (
	sourceDynamoDB = "aws:dynamodb"
	sourceSQS      = "aws:sqs"
)

// streamEvent is the part of a Lambda event the handler reads: the JSON of
// an events.DynamoDBEvent or of an events.SQSEvent. Both kinds are read in
// one pass, into one record type, so that the entry point parses the
// payload once whichever kind it is. Images stay raw until written.
type streamEvent struct {
	Records []eventRecord `json:"Records"`
}

// eventRecord is one record of either kind: a stream record fills the
// first group of fields, an SQS message the second.
type eventRecord struct {
	EventSource string `json:"eventSource,omitempty"`

	// DynamoDB Streams (events.DynamoDBEventRecord).
	EventID        string        `json:"eventID,omitempty"`
	EventName      string        `json:"eventName,omitempty"`
	EventSourceARN string        `json:"eventSourceARN,omitempty"`
	Change         *streamChange `json:"dynamodb,omitempty"`
	UserIdentity   *userIdentity `json:"userIdentity,omitempty"`

	// SQS (events.SQSMessage).
	MessageID  string            `json:"messageId,omitempty"`
	Body       string            `json:"body,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

type streamChange struct {
	ApproximateCreationDateTime float64         `json:"ApproximateCreationDateTime"`
	Keys                        json.RawMessage `json:"Keys"`
	NewImage                    json.RawMessage `json:"NewImage"`
	OldImage                    json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string          `json:"SequenceNumber"`
	StreamViewType              string          `json:"StreamViewType"`
}

type userIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// source returns the eventSource of the first record ("" for an empty event).
func (ev *streamEvent) source() string {
	if len(ev.Records) == 0 {
		return ""
	}
	return ev.Records[0].EventSource
}

// isTTL reports whether the record is a TTL expiry.
func (r *eventRecord) isTTL() bool {
	return r.EventName == "REMOVE" && r.UserIdentity != nil &&
		r.UserIdentity.Type == "Service" && r.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"
}

// parseEvent reads payload with github.com/goccy/go-json, a drop-in for
// encoding/json that reads a 6 MB event about 7 times faster.
func parseEvent(payload []byte, ev *streamEvent) error {
	if err := gojson.Unmarshal(payload, ev); err != nil {
		return fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	return nil
}

// decodeEvent parses a stream event's payload into changes, without old
// images; see decodeRecords.
func decodeEvent(payload []byte) (changes []replicate.Change, ttl int, err error) {
	var ev streamEvent
	if err := parseEvent(payload, &ev); err != nil {
		return nil, 0, err
	}
	return decodeRecords(&ev, false)
}

// decodeRecords converts a parsed stream event's records into changes with
// replicate.DecodeRecord. Problems with one record become that record's
// Change.Err; only a record without a dynamodb section or a valid sequence
// number is an error for the whole batch. ttl counts the TTL expiries.
// With oldImages the changes keep the records' old images, for a rule set;
// without, they hold none, so a batch without rules keeps no old image
// alive while it is written.
func decodeRecords(ev *streamEvent, oldImages bool) (changes []replicate.Change, ttl int, err error) {
	for i := range ev.Records {
		r := &ev.Records[i]
		if r.Change == nil {
			return nil, 0, fmt.Errorf("%w: record %d (eventID %q) has no dynamodb section", ErrBadEvent, i, r.EventID)
		}
		if err := replicate.ValidateSeq(r.Change.SequenceNumber); err != nil {
			return nil, 0, fmt.Errorf("%w: record %d (eventID %q): %w", ErrBadEvent, i, r.EventID, err)
		}
		if r.isTTL() {
			ttl++
		}
	}
	changes = make([]replicate.Change, len(ev.Records))
	// Key decoding is most of the work; records are independent, so large
	// batches are split across the available CPUs.
	parts := min(runtime.GOMAXPROCS(0), max(len(changes)/minRecordsPerWorker, 1))
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(changes)/parts, (p+1)*len(changes)/parts
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				changes[i] = toChange(&ev.Records[i], oldImages)
			}
		})
	}
	wg.Wait()
	return changes, ttl, nil
}

// minRecordsPerWorker is the smallest share of a batch worth a goroutine.
const minRecordsPerWorker = 512

func toChange(r *eventRecord, oldImages bool) replicate.Change {
	sc := r.Change
	rec := replicate.Record{
		Seq: sc.SequenceNumber, Event: r.EventName, Keys: sc.Keys, NewImage: sc.NewImage,
		Created: epochTime(sc.ApproximateCreationDateTime), ViewType: sc.StreamViewType, TTL: r.isTTL(),
	}
	if oldImages {
		rec.OldImage = sc.OldImage
	}
	return replicate.DecodeRecord(&rec)
}

// epochTime converts Lambda's ApproximateCreationDateTime (epoch seconds,
// possibly fractional) to a time.
func epochTime(sec float64) time.Time {
	if sec <= 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return time.Time{}
	}
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}
