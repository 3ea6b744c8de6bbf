package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/faultproxy"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

const poisonPK = "poison"

// good returns n items that fit both tables: the target's key is (pk, sk),
// the source's only pk.
func good(prefix string, n int) []types.WriteRequest {
	reqs := make([]types.WriteRequest, n)
	for i := range reqs {
		reqs[i].PutRequest = &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("%s%04d", prefix, i)},
			"sk": &types.AttributeValueMemberS{Value: "v1"},
			"n":  &types.AttributeValueMemberN{Value: fmt.Sprint(i)},
		}}
	}
	return reqs
}

func putAll(t *testing.T, db *dynamodb.Client, reqs []types.WriteRequest) {
	t.Helper()
	for len(reqs) > 0 {
		n := min(len(reqs), maxBatchWrites)
		out, err := db.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{sourceTable: reqs[:n]}})
		require.NoError(t, err)
		require.Empty(t, out.UnprocessedItems)
		reqs = reqs[n:]
	}
}

// failureLines returns the failure file's records.
func failureLines(t *testing.T, path string) []streampoll.FailureRecord {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var recs []streampoll.FailureRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r streampoll.FailureRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "failure line %s", sc.Text())
		recs = append(recs, r)
	}
	require.NoError(t, sc.Err())
	return recs
}

// repair makes the target equal to the source with `ddbsync repair`'s
// Repairer, for every difference Verify finds, and returns how many it
// found.
func repair(t *testing.T, e *env) int {
	t.Helper()
	rep := tablesync.NewRepairer(e.db, sourceTable, e.db, targetTable, tablesync.RepairOptions{})
	res, err := tablesync.Verify(t.Context(), e.db, sourceTable, e.db, targetTable, tablesync.VerifyOptions{
		Rechecks: 1, RecheckDelay: -1, OnDifference: tablesync.RepairEach(rep, nil),
	})
	require.NoError(t, err)
	require.Zero(t, rep.Stats().Failed, "keys not repaired: %v", rep.FailedKeys())
	return int(res.Missing + res.Extra + res.Different)
}

// TestReplicate_PoisonRecord writes an item that the target refuses (its
// sk is a number, and the target has an index on sk as a string) among
// good ones: after the configured retries its
// batch reaches the failure file while every other key keeps replicating;
// once the item is fixed in the source, a repair recovers it, and the
// resumed poller then agrees.
func TestReplicate_PoisonRecord(t *testing.T) {
	const maxRetries = 2
	ctx := t.Context()
	e := newEnv(t,
		ddblocal.TableSpec{HashKey: "pk"},
		ddblocal.TableSpec{HashKey: "pk", IndexKey: "sk"}, // the target's index needs sk (S)
		faultproxy.Options{})
	failurePath := filepath.Join(t.TempDir(), "failures.jsonl")
	failures, err := os.OpenFile(failurePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { _ = failures.Close() })

	// Before the poller starts: 150 good items, the poison (sk is a
	// number), 150 more, so the poison sits inside a batch of 100.
	putAll(t, e.db, good("before#", 150))
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(sourceTable), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: poisonPK},
		"sk": &types.AttributeValueMemberN{Value: "1"},
	}})
	require.NoError(t, err)
	putAll(t, e.db, good("after#", 150))

	opts := pollerOpts(e.streamARN, nil)
	opts.Failures, opts.MaxRetries = failures, maxRetries
	handler := e.handler(nil, nil, dynamo.Options{Retry: retry.Policy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}}, replicate.Options{})
	p := streampoll.New(e.srv.Streams(e.keyID), handler, opts)
	run := runBackground(t, p)

	eventually(t, 30*time.Second, "the poison batch in the failure file", func() bool {
		return len(failureLines(t, failurePath)) > 0
	})
	// Every other key keeps replicating: live writes after the failure.
	putAll(t, e.db, good("live#", 100))
	require.NoError(t, p.WaitIdle(ctx, time.Second))

	res := e.compare(t)
	t.Logf("after the poison: %s", describe(res))
	require.EqualValues(t, 1, res.Missing, "only the poison is missing: %s", describe(res))
	assert.Zero(t, res.Extra)
	assert.Zero(t, res.Different)
	assert.EqualValues(t, 401, res.SourceItems)
	assert.Equal(t, &types.AttributeValueMemberS{Value: poisonPK}, res.Examples[0].Key["pk"])

	lines := failureLines(t, failurePath)
	require.Len(t, lines, 1)
	rec := lines[0]
	assert.Equal(t, streampoll.ConditionRetryAttemptsExhausted, rec.RequestContext.Condition)
	assert.Equal(t, maxRetries+1, rec.RequestContext.ApproximateInvokeCount)
	assert.Equal(t, e.streamARN, rec.DDBStreamBatchInfo.StreamARN)
	assert.Equal(t, poisonPK, recordKey(t, e, rec.DDBStreamBatchInfo.ShardID, rec.DDBStreamBatchInfo.StartSequenceNumber),
		"the failed range starts at the poison record")

	// Fix the item in the source while `ddbsync run` is stopped, repair,
	// then resume: the stream's copy of the fix agrees with the repair.
	run.halt(t)
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(sourceTable), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: poisonPK},
		"sk": &types.AttributeValueMemberS{Value: "fixed"},
	}})
	require.NoError(t, err)
	assert.Equal(t, 1, repair(t, e), "one item repaired")
	res = e.compare(t)
	assert.True(t, res.Identical(), "after repair: %s", describe(res))

	opts.Resume = map[string]string{}
	for _, pos := range p.Positions() {
		if pos.SequenceNumber != "" {
			opts.Resume[pos.ShardID] = pos.SequenceNumber
		}
	}
	opts.StopWhenIdle = 500 * time.Millisecond
	resumed := streampoll.New(e.srv.Streams(e.keyID), handler, opts)
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, resumed.Run(runCtx))
	assert.EqualValues(t, 1, resumed.Stats().Records, "only the fix was left to read")
	res = e.compare(t)
	assert.True(t, res.Identical(), "after the resumed poller: %s", describe(res))
	assert.Len(t, failureLines(t, failurePath), 1, "no new failure")
}

// recordKey reads the stream record at seq in shard and returns its pk.
func recordKey(t *testing.T, e *env, shard, seq string) string {
	t.Helper()
	streams := e.srv.Streams(e.keyID)
	it, err := streams.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(e.streamARN), ShardId: aws.String(shard),
		ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(seq),
	})
	require.NoError(t, err)
	out, err := streams.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Len(t, out.Records, 1)
	return out.Records[0].Dynamodb.Keys["pk"].(*streamtypes.AttributeValueMemberS).Value
}
