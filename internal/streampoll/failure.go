package streampoll

import (
	"crypto/rand"
	"fmt"
	"time"
)

// Values of Lambda's on-failure invocation record for streams
// (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).
const (
	// ConditionRetryAttemptsExhausted is the requestContext.condition of a
	// batch given up after MaximumRetryAttempts.
	ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"
	// FunctionErrorUnhandled is responseContext.functionError when the
	// function returned an error (rather than a partial batch failure).
	FunctionErrorUnhandled = "Unhandled"
	failureRecordVersion   = "1.0"
	executedVersion        = "$LATEST"
	timestampLayout        = "2006-01-02T15:04:05.000Z"
	arrivalLayout          = "2006-01-02T15:04:05Z" // stream records have whole seconds
)

// FailureRecord is the metadata of a batch given up after its retries, in
// the shape of the invocation record Lambda sends to an event source
// mapping's on-failure destination for DynamoDB Streams. Like Lambda's, it
// holds no record data: read the records back from the stream with
// DDBStreamBatchInfo before the stream's 24-hour retention ends.
type FailureRecord struct {
	RequestContext     FailureRequestContext  `json:"requestContext"`
	ResponseContext    FailureResponseContext `json:"responseContext"`
	Version            string                 `json:"version"`
	Timestamp          string                 `json:"timestamp"`
	DDBStreamBatchInfo BatchInfo              `json:"DDBStreamBatchInfo"`
}

// FailureRequestContext describes the last invocation of the batch.
type FailureRequestContext struct {
	// RequestID identifies the last invocation (generated locally).
	RequestID string `json:"requestId"`
	// FunctionARN is [Options.FunctionARN]: the function's ARN on AWS,
	// locally a description of the invoked function.
	FunctionARN string `json:"functionArn"`
	// Condition is ConditionRetryAttemptsExhausted.
	Condition string `json:"condition"`
	// ApproximateInvokeCount is how many times the batch was sent.
	ApproximateInvokeCount int `json:"approximateInvokeCount"`
}

// FailureResponseContext describes the function's last answer.
type FailureResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	// FunctionError is FunctionErrorUnhandled when the last invocation
	// failed as a whole, and empty after a partial batch failure.
	FunctionError string `json:"functionError,omitempty"`
}

// BatchInfo locates the failed records in the stream.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// newFailureRecord describes recs, given up after invokes invocations.
func newFailureRecord(now time.Time, requestID, functionARN, streamARN, shardID string, recs []*record, invokes int, wholeBatch bool) FailureRecord {
	first, last := recs[0], recs[len(recs)-1]
	f := FailureRecord{
		RequestContext: FailureRequestContext{
			RequestID:              requestID,
			FunctionARN:            functionARN,
			Condition:              ConditionRetryAttemptsExhausted,
			ApproximateInvokeCount: invokes,
		},
		ResponseContext: FailureResponseContext{StatusCode: 200, ExecutedVersion: executedVersion},
		Version:         failureRecordVersion,
		Timestamp:       now.UTC().Format(timestampLayout),
		DDBStreamBatchInfo: BatchInfo{
			ShardID:                         shardID,
			StartSequenceNumber:             first.seq,
			EndSequenceNumber:               last.seq,
			ApproximateArrivalOfFirstRecord: arrival(first),
			ApproximateArrivalOfLastRecord:  arrival(last),
			BatchSize:                       len(recs),
			StreamARN:                       streamARN,
		},
	}
	if wholeBatch {
		f.ResponseContext.FunctionError = FunctionErrorUnhandled
	}
	return f
}

func arrival(r *record) string {
	t := r.created
	if t.IsZero() {
		t = r.fetched
	}
	return t.UTC().Format(arrivalLayout)
}

// newRequestID returns a random UUID (version 4), like Lambda's request IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
