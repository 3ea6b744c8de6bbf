package streampoll_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

var _ streampoll.Invoker = (*lambdahandler.Handler)(nil)

func TestMain(m *testing.M) { testkit.Main(m) }

// capturing wraps an Invoker and keeps every payload and response.
type capturing struct {
	streampoll.Invoker
	mu        sync.Mutex
	payloads  [][]byte
	responses []string
}

func (c *capturing) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := c.Invoker.Invoke(ctx, payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.payloads = append(c.payloads, payload)
	c.responses = append(c.responses, string(resp))
	return resp, err
}

// newHandler returns the Lambda handler writing to table through db.
func newHandler(db *dynamodb.Client, table string) *lambdahandler.Handler {
	t := dynamo.NewTable(db, table, dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	return lambdahandler.New(replicate.New(t, replicate.Options{}), lambdahandler.Options{TargetTable: table})
}

// TestPoller_DynamoDBLocal replicates a small workload from DynamoDB
// Local's real stream with the real handler, then checks the event shape
// DynamoDB Local produced.
func TestPoller_DynamoDBLocal(t *testing.T) {
	ctx := t.Context()
	srv := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := srv.DynamoDB(keyID)
	arn, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{
		Name: "source", HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN,
		StreamViewType: types.StreamViewTypeNewAndOldImages,
	})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{
		Name: "target", HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN,
	})
	require.NoError(t, err)

	counts, err := demo.Workload{Table: "source", Keys: 20, Seed: 1}.Run(ctx, db, 200)
	require.NoError(t, err)

	fn := &capturing{Invoker: newHandler(db, "target")}
	var failures bytes.Buffer
	p := streampoll.New(srv.Streams(keyID), fn, streampoll.Options{
		StreamARN:    arn,
		BatchSize:    50,
		StopWhenIdle: 600 * time.Millisecond,
		Failures:     &failures,
	})
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, p.Run(runCtx))
	require.NoError(t, runCtx.Err(), "stopped when idle")

	res, err := tablesync.Compare(ctx, db, "source", db, "target", tablesync.CompareOptions{})
	require.NoError(t, err)
	t.Logf("%d operations (%s); %s; %d invocations; stats %+v; positions %+v", counts.Total(), counts, res, p.Stats().Invocations, p.Stats(), p.Positions())
	assert.True(t, res.Identical(), "%s; examples %+v", res, res.Examples)
	assert.Empty(t, failures.String())

	// Every record DynamoDB Local produced reached the function in
	// Lambda's shape.
	var records int
	for _, payload := range fn.payloads {
		var ev struct {
			Records []struct {
				EventSource, EventVersion, AWSRegion, EventSourceARN string
				Change                                               map[string]json.RawMessage `json:"dynamodb"`
			} `json:"Records"`
		}
		require.NoError(t, json.Unmarshal(payload, &ev))
		for _, r := range ev.Records {
			records++
			assert.Equal(t, "aws:dynamodb", r.EventSource)
			assert.Equal(t, "1.1", r.EventVersion)
			assert.Equal(t, arn, r.EventSourceARN)
			for _, field := range []string{"Keys", "SequenceNumber", "SizeBytes", "StreamViewType", "ApproximateCreationDateTime"} {
				assert.Contains(t, r.Change, field)
			}
		}
	}
	assert.Equal(t, p.Stats().Records, int64(records))
	pos := p.Positions()
	require.NotEmpty(t, pos)
	assert.NotEmpty(t, pos[len(pos)-1].SequenceNumber)
}

// TestPoller_DynamoDBLocal_FailureFile sends records that the target
// rejects (its key type differs) and checks that, after the retries, their
// batch's metadata reaches the failure file and the poller goes on.
func TestPoller_DynamoDBLocal_FailureFile(t *testing.T) {
	ctx := t.Context()
	srv := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := srv.DynamoDB(keyID)
	arn, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewImage})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk", HashType: types.ScalarAttributeTypeN})
	require.NoError(t, err)
	for _, pk := range []string{"a", "b", "c"} {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk},
		}})
		require.NoError(t, err)
	}

	fn := &capturing{Invoker: newHandler(db, "target")}
	var failures bytes.Buffer
	p := streampoll.New(srv.Streams(keyID), fn, streampoll.Options{
		StreamARN:      arn,
		MaxRetries:     2,
		RetryBaseDelay: time.Millisecond,
		StopWhenIdle:   600 * time.Millisecond,
		Failures:       &failures,
		FunctionARN:    "in-process",
	})
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, p.Run(runCtx))

	require.Len(t, fn.payloads, 3, "sent once and retried twice")
	var first struct {
		Records []struct {
			Change struct{ SequenceNumber string } `json:"dynamodb"`
		}
	}
	require.NoError(t, json.Unmarshal(fn.payloads[0], &first))
	require.Len(t, first.Records, 3)
	for _, resp := range fn.responses {
		assert.JSONEq(t, `{"batchItemFailures":[{"itemIdentifier":"`+first.Records[0].Change.SequenceNumber+`"}]}`, resp)
	}

	lines := strings.Split(strings.TrimSpace(failures.String()), "\n")
	require.Len(t, lines, 1)
	var rec streampoll.FailureRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	pos := p.Positions()
	require.Len(t, pos, 1)
	assert.Equal(t, streampoll.BatchInfo{
		ShardID:                         pos[0].ShardID,
		StartSequenceNumber:             first.Records[0].Change.SequenceNumber,
		EndSequenceNumber:               first.Records[2].Change.SequenceNumber,
		ApproximateArrivalOfFirstRecord: rec.DDBStreamBatchInfo.ApproximateArrivalOfFirstRecord,
		ApproximateArrivalOfLastRecord:  rec.DDBStreamBatchInfo.ApproximateArrivalOfLastRecord,
		BatchSize:                       3,
		StreamARN:                       arn,
	}, rec.DDBStreamBatchInfo)
	assert.Equal(t, 3, rec.RequestContext.ApproximateInvokeCount)
	_, err = time.Parse(time.RFC3339, rec.DDBStreamBatchInfo.ApproximateArrivalOfFirstRecord)
	assert.NoError(t, err)
	assert.Equal(t, first.Records[2].Change.SequenceNumber, pos[0].SequenceNumber, "the poller moved past the batch")
	s := p.Stats()
	assert.Equal(t, int64(3), s.FailedRecords)
	assert.Equal(t, int64(1), s.FailedBatches)
}
