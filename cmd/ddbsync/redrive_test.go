package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// redriveSetup creates "orders" with a stream and "orders-copy" with an
// index on "g" of type S, writes orders whose "g" is a string except for
// the poison order-002 (a number: the copy rejects it), and returns a
// failure record line per order, each for that order's stream record.
func redriveSetup(t *testing.T, keyID string) (lines map[string]string, db *dynamodb.Client) {
	t.Helper()
	s := testkit.DDB(t)
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
	keyID := testkit.AccessKeyID(t)
	lines, db := redriveSetup(t, keyID)
	foreign := strings.ReplaceAll(lines["order-000"], "table/orders/", "table/other/")
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	content := strings.Join([]string{lines["order-000"], lines["order-002"], "not json", foreign, lines["order-001"]}, "\n") + "\n"
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	args := []string{"--table", "orders", "--target-table", "orders-copy", "--failure-file", file, "--yes"}

	s := testkit.DDB(t)
	var out, errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), append([]string{"--endpoint-url", s.Endpoint}, args...))
	assert.ErrorIs(t, err, ErrNotRedriven)
	stdout := out.String()
	plan, _, _ := strings.Cut(errOut.String(), "time=") // the plan, then the repair's warnings
	assert.Equal(t, "ddbsync redrive plan:\n"+
		"  account:  unknown (endpoint URL "+s.Endpoint+")\n"+
		"  source:   table orders, region us-east-1, endpoint "+s.Endpoint+" (read only)\n"+
		"  target:   table orders-copy, region us-east-1, endpoint "+s.Endpoint+" (written)\n"+
		"  will:     read 5 batches in failure file "+file+" back from the stream of table orders\n"+
		"            bring each of their keys in orders-copy to the source's current value (put, or delete)\n", plan)
	assert.Contains(t, stdout, "redrive: 2 batches redriven, 1 kept, 0 expired, 2 unreadable; 3 records read, 3 keys: 2 put, 0 deleted, 0 unchanged, 1 failed\n")
	assert.Regexp(t, `redriven shard \S+ \d+\.\.\d+ \(line 1\): 1 records, 1 keys: 1 put, 0 deleted, 0 unchanged, 0 failed\n`, stdout)
	assert.Contains(t, stdout, "kept line 3: not an on-failure record for DynamoDB Streams")
	assert.Contains(t, stdout, "kept line 4: its stream arn:aws:dynamodb:ddblocal:000000000000:table/other/stream/")
	assert.Regexp(t, `kept shard \S+ \d+\.\.\d+ \(line 2\): 1 records, 1 keys: 0 put, 0 deleted, 0 unchanged, 1 failed: redrive shard \S+: keys not repaired: 1 of 1\n`+
		`  failed key \{"id":\{"S":"order-002"\}\}: put item in orders-copy: .*ValidationException`, stdout)
	assert.NotContains(t, stdout, `"status"`, "no item values")

	left, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, strings.Join([]string{lines["order-002"], "not json", foreign}, "\n")+"\n", string(left), "only the batches redriven are removed")
	done, err := os.ReadFile(file + ".done")
	require.NoError(t, err)
	assert.Equal(t, lines["order-000"]+"\n"+lines["order-001"]+"\n", string(done), "the batches redriven are kept in FILE.done")
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

	// Without a failure file, there is nothing to redrive.
	out.Reset()
	none := []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy", "--failure-file", file + ".none", "--yes"}
	require.NoError(t, cmd.Run(t.Context(), none))
	assert.Contains(t, out.String(), "nothing to redrive")
}

// fakeQueue is a fake SQS queue: it hands out its messages once and
// records the deletions and releases. (The SQS source itself is tested
// against moto_server in internal/redrive.)
type fakeQueue struct {
	mu       sync.Mutex
	messages []sqstypes.Message
	deleted  []string
	released []string // made visible again
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

func (q *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = append(q.released, aws.ToString(in.ReceiptHandle))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *fakeQueue) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessages": strconv.Itoa(len(q.messages))}}, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

func TestRedriveCommand_Queue(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	lines, _ := redriveSetup(t, keyID)
	q := &fakeQueue{}
	for _, id := range []string{"order-000", "order-002", "order-001"} {
		q.messages = append(q.messages, sqstypes.Message{Body: aws.String(lines[id]), ReceiptHandle: aws.String("receipt-" + id), MessageId: aws.String("id-" + id)})
	}
	s := testkit.DDB(t)
	var out, errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, queue: q,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--queue-url", "https://sqs.test/123456789012/failures", "--yes"})
	assert.ErrorIs(t, err, ErrNotRedriven)
	assert.Equal(t, []string{"receipt-order-000", "receipt-order-001"}, q.deleted, "the poison batch's message stays")
	assert.Equal(t, []string{"receipt-order-002"}, q.released, "and is visible again")
	assert.Contains(t, errOut.String(), "will:     read about 3 batches in queue https://sqs.test/123456789012/failures back from the stream of table orders")
	assert.Contains(t, out.String(), "kept shard")
	assert.Contains(t, out.String(), "(message id-order-002)")
	assert.Contains(t, out.String(), "redrive: 2 batches redriven, 1 kept, 0 expired, 0 unreadable; 3 records read, 3 keys: 2 put, 0 deleted, 0 unchanged, 1 failed\n")

	q.messages = []sqstypes.Message{{Body: aws.String(lines["order-000"]), ReceiptHandle: aws.String("again")}}
	q.deleted = nil
	out.Reset()
	require.NoError(t, cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--queue-url", "https://sqs.test/123456789012/failures", "--max-messages", "1", "--yes"}))
	assert.Equal(t, []string{"again"}, q.deleted)
}

// ordersPair creates "orders" with a stream and "orders-copy", whose index
// on "g" (type S) rejects an item whose "g" is a number, and returns the
// client and the stream ARN.
func ordersPair(t *testing.T, keyID string) (*dynamodb.Client, string) {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(keyID)
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
	return db, arn
}

// version returns an order with a version number; poison orders have a
// numeric "g", which orders-copy rejects.
func version(id string, v int, poison bool) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: id},
		"v":  &types.AttributeValueMemberN{Value: string(rune('0' + v))},
		"g":  &types.AttributeValueMemberS{Value: "group"},
	}
	if poison {
		it["g"] = &types.AttributeValueMemberN{Value: "7"}
	}
	return it
}

// batchLine returns the on-failure record (one JSON line) of the stream
// records first..last (0-based, in stream order) of the source's stream.
func batchLine(t *testing.T, keyID, arn string, first, last int) string {
	t.Helper()
	streams := testkit.DDB(t).Streams(keyID)
	desc, err := streams.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	require.NoError(t, err)
	shard := aws.ToString(desc.StreamDescription.Shards[0].ShardId)
	it, err := streams.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(t, err)
	recs, err := streams.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Greater(t, len(recs.Records), last)
	b, err := json.Marshal(streampoll.FailureRecord{
		Version: "1.0", RequestContext: streampoll.FailureRequestContext{Condition: streampoll.ConditionRetryAttemptsExhausted},
		DDBStreamBatchInfo: streampoll.BatchInfo{
			ShardID: shard, StreamARN: arn, BatchSize: last - first + 1,
			StartSequenceNumber: aws.ToString(recs.Records[first].Dynamodb.SequenceNumber),
			EndSequenceNumber:   aws.ToString(recs.Records[last].Dynamodb.SequenceNumber),
		},
	})
	require.NoError(t, err)
	return string(b)
}

// getOrder reads an order with ConsistentRead; nil if there is none.
func getOrder(t *testing.T, db *dynamodb.Client, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
	require.NoError(t, err)
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

// redriveFile runs ddbsync redrive on a failure file holding lines and
// returns the exit code and stdout.
func redriveFile(t *testing.T, keyID, file string, lines []string, extra ...string) (int, string) {
	t.Helper()
	var content string
	for _, l := range lines {
		content += l + "\n"
	}
	require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	s := testkit.DDB(t)
	var out, errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), append([]string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--failure-file", file, "--yes"}, extra...))
	return exitCode(&errOut, "redrive", err), out.String()
}

// TestRedriveCommand_NeverRegresses: a failed batch holds old images of A
// and B (B's was rejected by the target); both have changed since and the
// target already holds their current value. A redrive must leave both at
// the source's current value, not at the batch's images.
func TestRedriveCommand_NeverRegresses(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, arn := ordersPair(t, keyID)
	putItem(t, db, "orders", version("A", 1, false))
	putItem(t, db, "orders", version("B", 1, true))
	for _, id := range []string{"A", "B"} {
		putItem(t, db, "orders", version(id, 2, false))
		putItem(t, db, "orders-copy", version(id, 2, false)) // the later records were applied
	}
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	line := batchLine(t, keyID, arn, 0, 1)

	code, stdout := redriveFile(t, keyID, file, []string{line})

	for _, id := range []string{"A", "B"} {
		assert.Equal(t, getOrder(t, db, "orders", id), getOrder(t, db, "orders-copy", id), "key %s after redrive\n%s", id, stdout)
	}
	assert.Equal(t, exitOK, code, stdout)
}

// TestRedriveCommand_FailedKeyNamed: the repair of A fails (the target
// rejects its current value); B is still brought to the source's value,
// A is named, the exit status is 1, and A is left as it was.
func TestRedriveCommand_FailedKeyNamed(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, arn := ordersPair(t, keyID)
	putItem(t, db, "orders-copy", version("A", 0, false)) // A as the target had it
	putItem(t, db, "orders", version("A", 1, true))
	putItem(t, db, "orders", version("B", 1, false))
	putItem(t, db, "orders", version("B", 2, false))
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	line := batchLine(t, keyID, arn, 0, 1)

	code, stdout := redriveFile(t, keyID, file, []string{line})

	assert.Equal(t, exitError, code, stdout)
	assert.Equal(t, getOrder(t, db, "orders", "B"), getOrder(t, db, "orders-copy", "B"), "B is repaired\n%s", stdout)
	assert.Equal(t, version("A", 0, false), getOrder(t, db, "orders-copy", "A"), "A is not older than before")
	assert.Contains(t, stdout, `{"id":{"S":"A"}}`, "A is named")
	assert.NotContains(t, stdout, `{"id":{"S":"B"}}`, "only failed keys are named")
	left, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, line+"\n", string(left), "the batch is kept")
}

// TestRedriveCommand_KeepsFailureFile: the failure file is never
// deleted; the lines redriven move to FILE.done.
func TestRedriveCommand_KeepsFailureFile(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, arn := ordersPair(t, keyID)
	putItem(t, db, "orders", version("A", 1, false))
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	line := batchLine(t, keyID, arn, 0, 0)

	code, stdout := redriveFile(t, keyID, file, []string{line})

	assert.Equal(t, exitOK, code, stdout)
	left, err := os.ReadFile(file)
	require.NoError(t, err, "the failure file is kept")
	assert.Empty(t, string(left))
	done, err := os.ReadFile(file + ".done")
	require.NoError(t, err)
	assert.Equal(t, line+"\n", string(done))
	assert.Equal(t, getOrder(t, db, "orders", "A"), getOrder(t, db, "orders-copy", "A"))
}

// TestRedriveCommand_DryRun: a dry run says what it would write and
// writes nothing: not the target, not the file.
func TestRedriveCommand_DryRun(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, arn := ordersPair(t, keyID)
	putItem(t, db, "orders", version("A", 1, false))
	putItem(t, db, "orders", version("B", 1, false))
	_, err := db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String("orders"),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "B"}}})
	require.NoError(t, err)
	putItem(t, db, "orders-copy", version("B", 1, false)) // B is gone from the source
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	line := batchLine(t, keyID, arn, 0, 2)

	code, stdout := redriveFile(t, keyID, file, []string{line}, "--dry-run")

	assert.Equal(t, exitOK, code, stdout)
	assert.Contains(t, stdout, `would put {"id":{"S":"A"}}`)
	assert.Contains(t, stdout, `would delete {"id":{"S":"B"}}`)
	assert.Nil(t, getOrder(t, db, "orders-copy", "A"), "nothing written")
	assert.Equal(t, version("B", 1, false), getOrder(t, db, "orders-copy", "B"), "nothing deleted")
	left, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, line+"\n", string(left), "the file is unchanged")
	_, err = os.Stat(file + ".done")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestRedriveCommand_Guards: redrive writes to the target, so it shows its
// plan and needs --yes without a terminal, and it refuses a target that is
// the source or has a stream of its own (the tables swapped), writing
// nothing and leaving the failure file as it was.
func TestRedriveCommand_Guards(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, arn := ordersPair(t, keyID)
	putItem(t, db, "orders", version("A", 1, false))
	line := batchLine(t, keyID, arn, 0, 0)
	s := testkit.DDB(t)
	tests := []struct {
		name          string
		table, target string
		terminal      bool
		answer        string
		wantCode      int
		wantErr       string
	}{
		{name: "no terminal, no --yes", table: "orders", target: "orders-copy", wantCode: exitUsage, wantErr: "pass --yes"},
		{name: "answered no", table: "orders", target: "orders-copy", terminal: true, answer: "n\n", wantCode: exitError, wantErr: "nothing written"},
		{name: "same table", table: "orders", target: "orders", wantCode: exitUsage, wantErr: "must differ from --table"},
		{name: "swapped tables", table: "orders-copy", target: "orders", wantCode: exitUsage, wantErr: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "failures.jsonl")
			require.NoError(t, os.WriteFile(file, []byte(line+"\n"), 0o600))
			var out, errOut bytes.Buffer
			cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(tt.answer),
				stdinTerminal: func() bool { return tt.terminal },
				awsConfig:     func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
			err := cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", tt.table, "--target-table", tt.target, "--failure-file", file})
			assert.Equal(t, tt.wantCode, exitCode(&errOut, "redrive", err), "stdout: %s", out.String())
			assert.Contains(t, errOut.String(), tt.wantErr)
			assert.Nil(t, getOrder(t, db, "orders-copy", "A"), "nothing written")
			left, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.Equal(t, line+"\n", string(left), "the failure file is unchanged")
		})
	}
	t.Run("plan then --yes", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "failures.jsonl")
		code, stdout := redriveFile(t, keyID, file, []string{line})
		assert.Equal(t, exitOK, code, stdout)
		assert.Equal(t, getOrder(t, db, "orders", "A"), getOrder(t, db, "orders-copy", "A"))
	})
}
