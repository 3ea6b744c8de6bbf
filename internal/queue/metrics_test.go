package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// values returns the metrics by name, checking each name appears once.
func values(tb testing.TB, ms []emf.Metric) map[string]float64 {
	tb.Helper()
	out := map[string]float64{}
	for _, m := range ms {
		require.NotContains(tb, out, m.Name, "metric %s twice", m.Name)
		out[m.Name] = m.Value
	}
	return out
}

func TestPublishResult_Metrics(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		res  queue.PublishResult
		want map[string]float64
	}{
		"all published": {
			res: queue.PublishResult{Received: 5, Published: 5, KeysOnly: 1, Retries: 2, NewestCreated: now.Add(-1500 * time.Millisecond)},
			want: map[string]float64{"RecordsReceived": 5, "MessagesPublished": 5, "MessagesKeysOnly": 1, "PublishRetries": 2,
				"RecordsFailed": 0, "ReplicationLagMs": 1500},
		},
		"a key failed": {
			res:  queue.PublishResult{Received: 4, Published: 1, FailedRecords: 3, FailedSeq: "7", NewestCreated: now.Add(-time.Minute)},
			want: map[string]float64{"RecordsReceived": 4, "MessagesPublished": 1, "MessagesKeysOnly": 0, "PublishRetries": 0, "RecordsFailed": 3, "ReplicationLagMs": 60000},
		},
		"no creation time, clock behind": {
			res:  queue.PublishResult{Received: 1, Published: 1, NewestCreated: now.Add(time.Second)},
			want: map[string]float64{"RecordsReceived": 1, "MessagesPublished": 1, "MessagesKeysOnly": 0, "PublishRetries": 0, "RecordsFailed": 0, "ReplicationLagMs": 0},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, values(t, tt.res.Metrics(now)))
		})
	}
}

func TestApplyResult_Metrics(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	res := queue.ApplyResult{
		Result:    replicate.Result{Received: 6, Puts: 3, Deletes: 1, Retries: 2, Collapsed: 1, FailedRecords: 1, NewestCreated: now.Add(-2 * time.Second)},
		FailedIDs: []string{"m5", "m6"}, Reread: 1, StaleSkipped: 2,
	}
	assert.Equal(t, map[string]float64{
		"MessagesReceived": 6, "ChangesApplied": 2, "StaleSkipped": 2, "MessagesFailed": 2,
		"WriteRetries": 2, "SourceRereads": 1, "ReplicationLagMs": 2000,
	}, values(t, res.Metrics(now)))
}

// TestPublisher_Publish_NewestCreated checks that a publish reports the
// newest creation time of its records, the replication lag's start.
func TestPublisher_Publish_NewestCreated(t *testing.T) {
	newest := time.Date(2026, 12, 1, 11, 59, 0, 0, time.UTC)
	recs := []queue.Record{record("a", 1, 1), record("b", 2, 2), record("a", 3, -1)}
	recs[0].Change.Created = newest.Add(-time.Minute)
	recs[1].Change.Created = newest
	recs[2].Change.Created = newest.Add(-time.Second)
	res := queue.NewPublisher(&queuetest.FakeSNS{}, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(t.Context(), recs)
	assert.True(t, newest.Equal(res.NewestCreated), "got %v", res.NewestCreated)
}

// condAPI is a func-field fake of dynamo.API whose PutItem answers err.
type condAPI struct {
	dynamo.API
	mu  sync.Mutex
	err func(in *dynamodb.PutItemInput) error
}

func (f *condAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.err(in); err != nil {
		return nil, err
	}
	return &dynamodb.PutItemOutput{}, nil
}

func TestStaleCounter_PutItem(t *testing.T) {
	ccf := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	tests := map[string]struct {
		err       error
		condition bool
		want      int64
	}{
		"stale guarded write":          {err: ccf, condition: true, want: 1},
		"applied":                      {condition: true},
		"throttled":                    {err: &types.ProvisionedThroughputExceededException{}, condition: true},
		"other error":                  {err: errors.New("boom"), condition: true},
		"rejected unconditioned write": {err: ccf},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := queue.NewStaleCounter(&condAPI{err: func(*dynamodb.PutItemInput) error { return tt.err }})
			in := &dynamodb.PutItemInput{TableName: aws.String("t")}
			if tt.condition {
				in.ConditionExpression = aws.String("attribute_not_exists(#seq) OR #seq < :seq")
			}
			_, err := c.PutItem(t.Context(), in)
			assert.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.want, c.Count())
		})
	}
}

// TestApplier_Apply_StaleSkipped applies, on DynamoDB Local through
// dynamo.SeqGuard, a change and then the same key's older change, as a
// redelivery brings it: the second is counted stale, not applied.
func TestApplier_Apply_StaleSkipped(t *testing.T) {
	srv := testkit.DDB(t)
	db := srv.DynamoDB(testkit.AccessKeyID(t))
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "stale-target", HashKey: "pk"})
	require.NoError(t, err)
	stale := queue.NewStaleCounter(db)
	guard := dynamo.NewSeqGuard(dynamo.NewTable(stale, "stale-target", dynamo.Options{}), replattr.Names{}, dynamo.GuardOptions{})
	a := queue.NewApplier(replicate.New(guard, replicate.Options{}), nil, "")
	a.Stale = stale

	msg := func(id string, seq, n int) queue.Message {
		r := record("k", seq, n)
		body, err := r.Envelope.Encode()
		require.NoError(t, err)
		return queue.Message{ID: id, GroupID: queue.GroupID(r.Change.KeyID), Body: body}
	}
	first := a.Apply(t.Context(), []queue.Message{msg("m1", 20, 2), msg("m2", 30, 3)})
	assert.Empty(t, first.FailedIDs)
	assert.Zero(t, first.StaleSkipped)
	assert.Equal(t, 1, first.Puts, "the older change of the batch is collapsed into the newer")

	redelivered := a.Apply(t.Context(), []queue.Message{msg("m1", 20, 2), msg("m0", 10, -1)})
	assert.Empty(t, redelivered.FailedIDs)
	assert.Equal(t, 1, redelivered.StaleSkipped, "the older put reaches the table and is refused")
	assert.Equal(t, float64(0), values(t, redelivered.Metrics(time.Now()))["ChangesApplied"])

	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("stale-target"),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, &types.AttributeValueMemberN{Value: "3"}, out.Item["n"], "the newest change stays")
}
