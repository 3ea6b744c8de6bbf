package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddblocal"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// redriveSetup creates "orders" with a stream and "orders-copy" with an
// index on "g" of type S, writes orders whose "g" is a string except for
// the poison order-002 (a number: the copy rejects it), and returns a
// failure record line per order, each for that order's stream record.
func redriveSetup(t *testing.T, keyID string) (lines map[string]string, db *dynamodb.Client) {
	t.Helper()
	s := server(t)
	db = s.DynamoDB(keyID)
	arn, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: aws.String("orders-copy"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("g"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("byG"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("g"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	require.NoError(t, err)
	for i := range 3 {
		it := order(i, "new")
		it["g"] = &types.AttributeValueMemberS{Value: "group"}
		if i == 2 {
			it["g"] = &types.AttributeValueMemberN{Value: "7"}
		}
		putItem(t, db, "orders", it)
	}

	streams := s.Streams(keyID)
	desc, err := streams.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	require.NoError(t, err)
	shard := aws.ToString(desc.StreamDescription.Shards[0].ShardId)
	it, err := streams.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(t, err)
	recs, err := streams.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Len(t, recs.Records, 3)
	lines = map[string]string{}
	for _, r := range recs.Records {
		seq := aws.ToString(r.Dynamodb.SequenceNumber)
		id := r.Dynamodb.Keys["id"].(*streamtypes.AttributeValueMemberS).Value
		b, err := json.Marshal(streampoll.FailureRecord{
			Version: "1.0", RequestContext: streampoll.FailureRequestContext{Condition: streampoll.ConditionRetryAttemptsExhausted},
			DDBStreamBatchInfo: streampoll.BatchInfo{ShardID: shard, StartSequenceNumber: seq, EndSequenceNumber: seq, BatchSize: 1, StreamARN: arn},
		})
		require.NoError(t, err)
		lines[id] = string(b)
	}
	return lines, db
}

func TestRedriveCommand_FailureFile(t *testing.T) {
	keyID := ddblocal.AccessKeyID(t)
	lines, db := redriveSetup(t, keyID)
	foreign := strings.ReplaceAll(lines["order-000"], "table/orders/", "table/other/")
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	content := strings.Join([]string{lines["order-000"], lines["order-002"], "not json", foreign, lines["order-001"]}, "\n") + "\n"
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	args := []string{"--table", "orders", "--target-table", "orders-copy", "--failure-file", file}

	s := server(t)
	var out, errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), append([]string{"--endpoint-url", s.Endpoint}, args...))
	assert.ErrorIs(t, err, ErrNotRedriven)
	stdout := out.String()
	assert.Contains(t, stdout, "redrive: 2 batches redriven (2 records), 1 still failing, 0 expired, 2 unreadable\n")
	assert.Contains(t, stdout, "1 records applied, 1 keys (0 repaired from the source)")
	assert.Contains(t, stdout, "kept line 3: not an on-failure record for DynamoDB Streams")
	assert.Contains(t, stdout, "kept line 4: its stream arn:aws:dynamodb:ddblocal:000000000000:table/other/stream/")
	assert.Regexp(t, `kept shard \S+ \d+\.\.\d+: redrive shard \S+: the function still fails the batch at record \d+`, stdout)

	left, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, strings.Join([]string{lines["order-002"], "not json", foreign}, "\n")+"\n", string(left), "only the batches redriven are removed")
	copied := map[string]bool{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String("orders-copy")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, it := range page.Items {
			copied[it["id"].(*types.AttributeValueMemberS).Value] = true
		}
	}
	assert.Equal(t, map[string]bool{"order-000": true, "order-001": true}, copied)

	// With nothing left to redrive, the file is removed.
	require.NoError(t, os.WriteFile(file, []byte(lines["order-000"]+"\n"), 0o600))
	out.Reset()
	require.NoError(t, cmd.Run(t.Context(), append([]string{"--endpoint-url", s.Endpoint}, args...)))
	_, err = os.Stat(file)
	assert.True(t, os.IsNotExist(err))
	require.NoError(t, cmd.Run(t.Context(), append([]string{"--endpoint-url", s.Endpoint}, args...)))
	assert.Contains(t, out.String(), "nothing to redrive")
}

// fakeQueue is a func-field-free fake SQS queue: it hands out its messages
// once and records the deletions.
type fakeQueue struct {
	mu       sync.Mutex
	messages []sqstypes.Message
	deleted  []string
	receives int
}

func (q *fakeQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.receives++
	n := min(int(in.MaxNumberOfMessages), len(q.messages))
	out := &sqs.ReceiveMessageOutput{Messages: q.messages[:n]}
	q.messages = q.messages[n:]
	return out, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func TestRedriveCommand_Queue(t *testing.T) {
	keyID := ddblocal.AccessKeyID(t)
	lines, _ := redriveSetup(t, keyID)
	q := &fakeQueue{}
	for _, id := range []string{"order-000", "order-002", "order-001"} {
		q.messages = append(q.messages, sqstypes.Message{Body: aws.String(lines[id]), ReceiptHandle: aws.String("receipt-" + id)})
	}
	s := server(t)
	var out, errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, queue: q,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--queue-url", "https://sqs.test/123456789012/failures"})
	assert.ErrorIs(t, err, ErrNotRedriven)
	assert.Equal(t, []string{"receipt-order-000", "receipt-order-001"}, q.deleted, "the poison batch's message stays")
	assert.Contains(t, out.String(), "redrive: 2 batches redriven (2 records), 1 still failing")

	q.messages = []sqstypes.Message{{Body: aws.String(lines["order-000"]), ReceiptHandle: aws.String("again")}}
	q.deleted = nil
	out.Reset()
	require.NoError(t, cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--queue-url", "https://sqs.test/123456789012/failures", "--max-messages", "1"}))
	assert.Equal(t, []string{"again"}, q.deleted)
}
