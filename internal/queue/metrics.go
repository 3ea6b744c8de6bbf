package queue

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Dimensions of the queue path's metrics (namespace emf.Namespace): the
// publisher's are per topic, the applier's per target table, like the
// direct path's.
const (
	// DimensionTopic names the topic published to (its name, not ARN).
	DimensionTopic = "Topic"
	// DimensionTargetTable names the table applied to.
	DimensionTargetTable = "TargetTable"
)

// Metrics returns the EMF metrics of one Publish, the lag measured at now:
// RecordsReceived, MessagesPublished, MessagesKeysOnly, PublishRetries,
// RecordsFailed (the records the stream will retry) and ReplicationLagMs
// (from the newest record's creation to now).
func (r PublishResult) Metrics(now time.Time) []emf.Metric {
	return []emf.Metric{
		{Name: "RecordsReceived", Unit: emf.Count, Value: float64(r.Received)},
		{Name: "MessagesPublished", Unit: emf.Count, Value: float64(r.Published)},
		{Name: "MessagesKeysOnly", Unit: emf.Count, Value: float64(r.KeysOnly)},
		{Name: "PublishRetries", Unit: emf.Count, Value: float64(r.Retries)},
		{Name: "RecordsFailed", Unit: emf.Count, Value: float64(r.FailedRecords)},
		{Name: "ReplicationLagMs", Unit: emf.Milliseconds, Value: lagMillis(now, r.NewestCreated)},
	}
}

// Metrics returns the EMF metrics of one Apply, the lag measured at now:
// MessagesReceived, ChangesApplied (writes that changed the target),
// StaleSkipped (writes the stale-write guard refused: older than the
// item), MessagesFailed (reported for redelivery), WriteRetries,
// SourceRereads (keys-only messages) and ReplicationLagMs (from the newest
// change's creation at the source to now: the path's end-to-end lag),
// and with a rule set RulesMetrics.
func (r ApplyResult) Metrics(now time.Time) []emf.Metric {
	return append([]emf.Metric{
		{Name: "MessagesReceived", Unit: emf.Count, Value: float64(r.Received)},
		{Name: "ChangesApplied", Unit: emf.Count, Value: float64(max(r.Puts+r.Deletes-r.StaleSkipped, 0))},
		{Name: "StaleSkipped", Unit: emf.Count, Value: float64(r.StaleSkipped)},
		{Name: "MessagesFailed", Unit: emf.Count, Value: float64(len(r.FailedIDs))},
		{Name: "WriteRetries", Unit: emf.Count, Value: float64(r.Retries)},
		{Name: "SourceRereads", Unit: emf.Count, Value: float64(r.Reread)},
		{Name: "ReplicationLagMs", Unit: emf.Milliseconds, Value: lagMillis(now, r.NewestCreated)},
	}, RulesMetrics(r.Result)...)
}

// RulesMetrics returns the metrics of a batch applied with a rule set
// (none without one): RecordsFiltered, the records the rules gave no
// write, and TTLDeletesSkipped, the TTL expiries skipped.
func RulesMetrics(r replicate.Result) []emf.Metric {
	if !r.Reshaped {
		return nil
	}
	return []emf.Metric{
		{Name: "RecordsFiltered", Unit: emf.Count, Value: float64(r.Filtered)},
		{Name: "TTLDeletesSkipped", Unit: emf.Count, Value: float64(r.TTLSkipped)},
	}
}

// TopicName returns the name of a topic from its ARN (its last field).
func TopicName(topicARN string) string {
	return topicARN[strings.LastIndexByte(topicARN, ':')+1:]
}

// lagMillis returns now - created in milliseconds, 0 for an unknown
// creation time or a clock behind it.
func lagMillis(now, created time.Time) float64 {
	if created.IsZero() {
		return 0
	}
	return float64(max(now.Sub(created), 0).Milliseconds())
}

var _ dynamo.API = (*StaleCounter)(nil)

// StaleCounter is a [dynamo.API] that counts the conditional PutItem calls
// DynamoDB refused with ConditionalCheckFailedException: under
// dynamo.SeqGuard, the stale changes it skipped. Give it to the guard's
// table and to [Applier.Stale].
type StaleCounter struct {
	dynamo.API
	n atomic.Int64
}

// NewStaleCounter returns a StaleCounter calling api.
func NewStaleCounter(api dynamo.API) *StaleCounter { return &StaleCounter{API: api} }

// PutItem calls the API's PutItem and counts a refused condition.
func (c *StaleCounter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := c.API.PutItem(ctx, in, optFns...)
	if err != nil && in.ConditionExpression != nil && dynamo.IsConditionalCheckFailed(err) {
		c.n.Add(1)
	}
	return out, err
}

// Count returns the refused conditional writes so far.
func (c *StaleCounter) Count() int64 { return c.n.Load() }
