package streampoll

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Lambda's limits for a stream batch
// (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html,
// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
const (
	// DefaultBatchSize is Lambda's default BatchSize for DynamoDB Streams.
	DefaultBatchSize = 100
	// MaxBatchSize is the largest BatchSize Lambda accepts.
	MaxBatchSize = 10000
	// MaxBatchWindow is the largest MaximumBatchingWindowInSeconds.
	MaxBatchWindow = 300 * time.Second
	// maxPayloadBytes is the synchronous invocation payload limit.
	maxPayloadBytes = 6 << 20
)

// Record defaults, used when the Streams API leaves a field out.
const (
	eventSourceDynamoDB = "aws:dynamodb"
	eventVersion        = "1.1"
)

// ErrBadResponse marks a function response that is not a readable
// events.DynamoDBEventResponse; the whole batch is retried.
var ErrBadResponse = errors.New("unusable batch response")

// record is one stream record, converted once to its Lambda event JSON.
type record struct {
	seq     string
	created time.Time // ApproximateCreationDateTime; zero if absent
	fetched time.Time // when GetRecords returned it
	json    []byte    // one events.DynamoDBEventRecord
}

// eventRecord is the JSON of aws-lambda-go's events.DynamoDBEventRecord,
// with images kept as raw DynamoDB JSON so that no value passes through a
// float64.
type eventRecord struct {
	AWSRegion      string        `json:"awsRegion"`
	Change         streamRecord  `json:"dynamodb"`
	EventID        string        `json:"eventID"`
	EventName      string        `json:"eventName"`
	EventSource    string        `json:"eventSource"`
	EventVersion   string        `json:"eventVersion"`
	EventSourceARN string        `json:"eventSourceARN"`
	UserIdentity   *userIdentity `json:"userIdentity,omitempty"`
}

type streamRecord struct {
	ApproximateCreationDateTime json.Number     `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        json.RawMessage `json:"Keys,omitempty"`
	NewImage                    json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string          `json:"SequenceNumber"`
	SizeBytes                   int64           `json:"SizeBytes"`
	StreamViewType              string          `json:"StreamViewType"`
}

type userIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// convertRecord converts a Streams API record to Lambda's event record JSON.
func convertRecord(r streamtypes.Record, streamARN string, fetched time.Time) (*record, error) {
	if r.Dynamodb == nil {
		return nil, fmt.Errorf("convert record %s: no dynamodb section", aws.ToString(r.EventID))
	}
	sr := r.Dynamodb
	seq := aws.ToString(sr.SequenceNumber)
	if err := replicate.ValidateSeq(seq); err != nil {
		return nil, fmt.Errorf("convert record %s: %w", aws.ToString(r.EventID), err)
	}
	ev := eventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceARN: streamARN,
		Change: streamRecord{
			SequenceNumber: seq,
			SizeBytes:      aws.ToInt64(sr.SizeBytes),
			StreamViewType: string(sr.StreamViewType),
		},
	}
	if ev.EventSource == "" {
		ev.EventSource = eventSourceDynamoDB
	}
	if ev.EventVersion == "" {
		ev.EventVersion = eventVersion
	}
	if r.UserIdentity != nil {
		ev.UserIdentity = &userIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	rec := &record{seq: seq, fetched: fetched}
	if sr.ApproximateCreationDateTime != nil {
		rec.created = *sr.ApproximateCreationDateTime
		ev.Change.ApproximateCreationDateTime = epochSeconds(rec.created)
	}
	var err error
	for _, img := range []struct {
		name string
		from map[string]streamtypes.AttributeValue
		to   *json.RawMessage
	}{
		{"Keys", sr.Keys, &ev.Change.Keys},
		{"NewImage", sr.NewImage, &ev.Change.NewImage},
		{"OldImage", sr.OldImage, &ev.Change.OldImage},
	} {
		if *img.to, err = imageJSON(img.from); err != nil {
			return nil, fmt.Errorf("convert record %s %s: %w", seq, img.name, err)
		}
	}
	if rec.json, err = json.Marshal(ev); err != nil {
		return nil, fmt.Errorf("marshal record %s: %w", seq, err)
	}
	return rec, nil
}

// imageJSON converts a Streams API image to DynamoDB JSON with the SDK, or
// returns nil for an absent image.
func imageJSON(img map[string]streamtypes.AttributeValue) (json.RawMessage, error) {
	if img == nil {
		return nil, nil
	}
	item, err := attributevalue.FromDynamoDBStreamsMap(img)
	if err != nil {
		return nil, err
	}
	return attributevalue.MarshalMapJSON(item)
}

// epochSeconds writes t as Lambda does: epoch seconds, with a fraction
// only when t has one.
func epochSeconds(t time.Time) json.Number {
	if t.Nanosecond() == 0 {
		return json.Number(strconv.FormatInt(t.Unix(), 10))
	}
	return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64))
}

// batchLen returns how many records from the front of recs form the next
// batch: at most batchSize, and at most maxPayloadBytes of JSON (but at
// least one record).
func batchLen(recs []*record, batchSize int) int {
	size := len(`{"Records":[]}`)
	n := 0
	for n < len(recs) && n < batchSize {
		size += len(recs[n].json) + 1
		if n > 0 && size > maxPayloadBytes {
			break
		}
		n++
	}
	return n
}

// payload returns the events.DynamoDBEvent JSON of recs.
func payload(recs []*record) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.json)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// checkpoint reads a function's events.DynamoDBEventResponse for recs and
// returns the index of the first record to send again, or -1 when the batch
// succeeded. Lambda's rules apply: an empty response or list is a success,
// the lowest itemIdentifier is the checkpoint, and an empty, null or
// unknown itemIdentifier fails the whole batch (index 0 and an error).
func checkpoint(resp []byte, recs []*record) (int, error) {
	trimmed := bytes.TrimSpace(resp)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return -1, nil
	}
	var r struct {
		BatchItemFailures []map[string]json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	lowest := ""
	for _, f := range r.BatchItemFailures {
		var id string
		if raw, ok := f["itemIdentifier"]; !ok || json.Unmarshal(raw, &id) != nil || replicate.ValidateSeq(id) != nil {
			return 0, fmt.Errorf("%w: itemIdentifier must be a record's SequenceNumber, got %s", ErrBadResponse, compact(f))
		}
		if lowest == "" || replicate.CompareSeq(id, lowest) < 0 {
			lowest = id
		}
	}
	if lowest == "" {
		return -1, nil
	}
	for i, rec := range recs {
		if replicate.CompareSeq(rec.seq, lowest) == 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: itemIdentifier %s is not in the batch", ErrBadResponse, lowest)
}

func compact(f map[string]json.RawMessage) string {
	b, _ := json.Marshal(f)
	return string(b)
}
