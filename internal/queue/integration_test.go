package queue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// queueSetup is an SNS FIFO topic fanned out to an SQS FIFO queue with raw
// message delivery.
type queueSetup struct {
	sns      *sns.Client
	sqs      *sqs.Client
	topicARN string
	queueURL string
	queueARN string
	seen     []queue.Message // every message drain received, in order
}

func newQueueSetup(tb testing.TB, endpoint string) *queueSetup {
	tb.Helper()
	ctx := tb.Context()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	q := &queueSetup{
		sns: sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sqs: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
	topic, err := q.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("changes.fifo"),
		Attributes: map[string]string{"FifoTopic": "true", "ContentBasedDeduplication": "false"}})
	require.NoError(tb, err)
	q.topicARN = aws.ToString(topic.TopicArn)
	queue, err := q.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("apply.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"}})
	require.NoError(tb, err)
	q.queueURL = aws.ToString(queue.QueueUrl)
	attrs, err := q.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(tb, err)
	q.queueARN = attrs.Attributes["QueueArn"]
	_, err = q.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(q.queueARN), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	require.NoError(tb, err)
	return q
}

// drain feeds the queue to fn as Lambda's SQS event source mapping does,
// deleting the messages fn does not report failed, until a receive comes
// back empty. It returns the messages applied and the ids reported failed.
func (q *queueSetup) drain(tb testing.TB, fn streampoll.Invoker) (applied int, failed []string) {
	tb.Helper()
	ctx := tb.Context()
	for {
		out, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		require.NoError(tb, err)
		if len(out.Messages) == 0 {
			return applied, failed
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			q.seen = append(q.seen, queue.Message{ID: aws.ToString(m.MessageId), GroupID: m.Attributes["MessageGroupId"], Body: []byte(aws.ToString(m.Body))})
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: q.queueARN, AWSRegion: "us-east-1",
			})
		}
		payload, err := json.Marshal(ev)
		require.NoError(tb, err)
		respJSON, err := fn.Invoke(ctx, payload)
		require.NoError(tb, err)
		var resp events.SQSEventResponse
		require.NoError(tb, json.Unmarshal(respJSON, &resp))
		bad := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			bad[f.ItemIdentifier] = true
			failed = append(failed, f.ItemIdentifier)
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			if !bad[aws.ToString(m.MessageId)] {
				del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(del) > 0 {
			dout, err := q.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.queueURL), Entries: del})
			require.NoError(tb, err)
			require.Empty(tb, dout.Failed)
		}
		applied += len(del)
		if len(bad) > 0 {
			return applied, failed // failed messages stay in flight: stop, as the group is blocked
		}
	}
}

// applyNow is the clock of the apply handlers' tombstones.
var applyNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// applyHandler returns the apply-mode handler writing to table through db;
// keys-only messages are re-read from the table named source.
func applyHandler(db *dynamodb.Client, table string, source ...string) *lambdahandler.Handler {
	t := dynamo.NewTable(db, table, dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	guard := dynamo.NewSeqGuard(t, replattr.Names{}, dynamo.GuardOptions{Now: func() time.Time { return applyNow }})
	applier := queue.NewApplier(replicate.New(guard, replicate.Options{}), db, strings.Join(source, ""))
	opts := lambdahandler.Options{TargetTable: table}
	return lambdahandler.NewHandler(nil, lambdahandler.NewQueueHandler(applier, opts), opts)
}

// assertSameVisible checks that the target, as a reader sees it through
// replattr.Names.Visible (no tombstones, no sequence attribute), holds
// exactly the source's items, and that the source is not empty.
func assertSameVisible(tb testing.TB, db *dynamodb.Client, source, target string) {
	tb.Helper()
	res, err := tablesync.Compare(tb.Context(), db, source, db, target, tablesync.CompareOptions{})
	require.NoError(tb, err)
	assert.True(tb, res.Identical(), "%s; examples %+v", res, res.Examples)
	assert.NotZero(tb, res.SourceItems, "the source has items")
}

// TestFanout_EndToEnd runs a random workload on DynamoDB Local, publishes
// its stream through the poller to an SNS FIFO topic, drains the
// subscribed SQS FIFO queue into the apply handler, and compares the tables.
func TestFanout_EndToEnd(t *testing.T) {
	ctx := t.Context()
	q := newQueueSetup(t, testkit.Moto(t))
	srv := testkit.DDB(t)
	keyID := testkit.AccessKeyID(t)
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
	counts, err := demo.Workload{Table: "source", Keys: 100, Seed: 7}.Run(ctx, db, 150)
	require.NoError(t, err)

	publisher := lambdahandler.NewHandler(lambdahandler.NewPublishHandler(queue.NewPublisher(q.sns, q.topicARN, queue.PublisherOptions{}), nil, lambdahandler.Options{}), nil, lambdahandler.Options{})
	p := streampoll.New(srv.Streams(keyID), publisher, streampoll.Options{StreamARN: arn, BatchSize: 100, StopWhenIdle: 600 * time.Millisecond})
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, p.Run(runCtx))
	published := time.Since(start)
	require.NoError(t, runCtx.Err(), "stopped when idle")
	stats := p.Stats()
	require.Zero(t, stats.FailedRecords)

	start = time.Now()
	h := applyHandler(db, "target")
	applied, failed := q.drain(t, h)
	drained := time.Since(start)
	assert.Empty(t, failed)
	assert.Equal(t, int(stats.Records), applied, "one message per stream record")
	t.Logf("%d operations (%s); %d stream records; %d messages applied; publish %v, drain %v",
		counts.Total(), counts, stats.Records, applied, published, drained)
	require.NotZero(t, counts.Deletes, "the workload deletes items")
	assertSameVisible(t, db, "source", "target")

	// Every message redelivered, newest first (a DLQ redrive long after
	// the dedup window): nothing changes, deleted items stay deleted.
	seen := q.seen
	slices.Reverse(seen)
	for lo := 0; lo < len(seen); lo += 10 {
		require.Empty(t, invokeSQS(t, h, seen[lo:min(lo+10, len(seen))]...))
	}
	assertSameVisible(t, db, "source", "target")
}

// sqsEvent returns an SQS event of raw-delivered envelopes.
func sqsEvent(tb testing.TB, msgs ...queue.Message) []byte {
	tb.Helper()
	ev := events.SQSEvent{}
	for _, m := range msgs {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.ID, Body: string(m.Body), EventSource: "aws:sqs",
			Attributes: map[string]string{"MessageGroupId": m.GroupID}})
	}
	b, err := json.Marshal(ev)
	require.NoError(tb, err)
	return b
}

func invokeSQS(tb testing.TB, h *lambdahandler.Handler, msgs ...queue.Message) []string {
	tb.Helper()
	out, err := h.Invoke(tb.Context(), sqsEvent(tb, msgs...))
	require.NoError(tb, err)
	var resp events.SQSEventResponse
	require.NoError(tb, json.Unmarshal(out, &resp))
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// TestFanout_StaleGuard_DynamoDBLocal delivers a newer change before an
// older one, and a duplicate, with 40-digit sequence numbers, against
// DynamoDB Local's real condition expressions.
func TestFanout_StaleGuard_DynamoDBLocal(t *testing.T) {
	ctx := t.Context()
	db := testkit.DDB(t).DynamoDB(testkit.AccessKeyID(t))
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	h := applyHandler(db, "target")

	older := strings.Repeat("9", 39)       // 39 digits
	newer := "1" + strings.Repeat("0", 39) // 40 digits: larger, though smaller as a plain string
	put := func(key, seq, v string) queue.Message {
		r := record(key, 0, 0)
		r.Change.Seq, r.Envelope.Seq = seq, seq
		r.Envelope.NewImage = json.RawMessage(fmt.Sprintf(`{"pk":{"S":%q},"v":{"S":%q}}`, key, v))
		m := message(t, r)
		m.ID = key + "-" + v
		return m
	}
	del := func(key, seq string) queue.Message {
		r := record(key, 0, -1)
		r.Change.Seq, r.Envelope.Seq = seq, seq
		m := message(t, r)
		m.ID = key + "-delete"
		return m
	}
	assert.Empty(t, invokeSQS(t, h, put("a", newer, "new"), put("b", "20", "b20")))
	assert.Empty(t, invokeSQS(t, h, put("a", older, "old"), put("a", newer, "dup"), del("b", "19")), "stale changes succeed")

	get := func(key string) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("target"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}}})
		require.NoError(t, err)
		return out.Item
	}
	a := get("a")
	assert.Equal(t, &types.AttributeValueMemberS{Value: "new"}, a["v"], "the older change and the duplicate were skipped")
	padded, err := dynamo.PadSeq(newer)
	require.NoError(t, err)
	assert.Equal(t, &types.AttributeValueMemberS{Value: padded}, a[dynamo.DefaultSeqAttribute])
	assert.NotNil(t, get("b"), "an older delete is skipped")

	assert.Empty(t, invokeSQS(t, h, del("b", "21")))
	names := replattr.Names{}
	assert.Nil(t, names.Visible(get("b")), "a newer delete applies")

	// put(c,10), delete(c,20), then put(c,10) redelivered: c stays deleted.
	assert.Empty(t, invokeSQS(t, h, put("c", "10", "c10")))
	assert.Empty(t, invokeSQS(t, h, del("c", "20")))
	assert.Empty(t, invokeSQS(t, h, put("c", "10", "c10")), "the redelivered put succeeds, skipped")
	c := get("c")
	assert.Nil(t, names.Visible(c), "a put older than the delete does not recreate the item")
	require.True(t, names.IsTombstone(c), "raw item %v", c)
	twenty, err := dynamo.PadSeq("20")
	require.NoError(t, err)
	assert.Equal(t, twenty, names.SeqOf(c))
	expires := strconv.FormatInt(applyNow.Add(dynamo.DefaultTombstoneRetention).Unix(), 10)
	assert.Equal(t, &types.AttributeValueMemberN{Value: expires}, c[replattr.DefaultExpires])

	// A newer put recreates it, without the tombstone's attributes.
	assert.Empty(t, invokeSQS(t, h, put("c", "30", "c30")))
	c = get("c")
	assert.Equal(t, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c"}, "v": &types.AttributeValueMemberS{Value: "c30"}},
		names.Visible(c))
	assert.NotContains(t, c, replattr.DefaultDeleted)
	assert.NotContains(t, c, replattr.DefaultExpires)
}

// TestFanout_GroupFailure_DynamoDBLocal makes one message of a group fail
// at DynamoDB (its key has the wrong type) and checks that the later
// messages of that group are reported too while other groups are applied.
func TestFanout_GroupFailure_DynamoDBLocal(t *testing.T) {
	ctx := t.Context()
	db := testkit.DDB(t).DynamoDB(testkit.AccessKeyID(t))
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	h := applyHandler(db, "target")

	good := func(key string, seq int, group string) queue.Message {
		m := message(t, record(key, seq, seq))
		m.ID, m.GroupID = key, group
		return m
	}
	bad := queue.Message{ID: "bad", GroupID: "g1", Body: []byte(`{"v":1,"event":"INSERT","keys":{"pk":{"N":"1"}},` +
		`"newImage":{"pk":{"N":"1"}},"seq":"1"}`)}
	failed := invokeSQS(t, h, good("before", 0, "g1"), bad, good("after", 2, "g1"), good("other", 3, "g2"), good("after2", 4, "g1"))
	assert.Equal(t, []string{"bad", "after", "after2"}, failed)

	for _, key := range []string{"before", "other"} {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("target"),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}}})
		require.NoError(t, err)
		assert.NotNil(t, out.Item, "%s is applied", key)
	}
}

// TestFanout_KeysOnly_DynamoDBLocal applies a keys-only envelope (an item
// too big for one message): the apply side re-reads the item from the
// source table, named by its ARN, and writes what it finds; an item gone
// from the source becomes a delete.
func TestFanout_KeysOnly_DynamoDBLocal(t *testing.T) {
	ctx := t.Context()
	db := testkit.DDB(t).DynamoDB(testkit.AccessKeyID(t))
	for _, name := range []string{"src", "target"} {
		_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: name, HashKey: "pk"})
		require.NoError(t, err)
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("src")})
	require.NoError(t, err)
	tableARN := aws.ToString(desc.Table.TableArn)
	big := strings.Repeat("x", 300<<10) // over SNS's 256 KiB, under DynamoDB's 400 KB
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("src"), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "big"}, "blob": &types.AttributeValueMemberS{Value: big},
	}})
	require.NoError(t, err)
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("target"), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "gone"},
	}})
	require.NoError(t, err)

	keysOnly := func(key string, seq int) queue.Message {
		r := record(key, seq, seq)
		r.Envelope.TableARN = tableARN
		r.Envelope.NewImage = json.RawMessage(fmt.Sprintf(`{"pk":{"S":%q},"blob":{"S":%q}}`, key, big))
		m := message(t, r)
		env, err := queue.DecodeEnvelope(m.Body)
		require.NoError(t, err)
		require.True(t, env.KeysOnly, "a message over the SNS limit carries keys only")
		return m
	}
	h := applyHandler(db, "target", "src") // DynamoDB Local takes no table ARN as TableName
	assert.Empty(t, invokeSQS(t, h, keysOnly("big", 5), keysOnly("gone", 6)))

	get := func(key string) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("target"), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}}})
		require.NoError(t, err)
		return out.Item
	}
	blob, ok := get("big")["blob"].(*types.AttributeValueMemberS)
	assert.True(t, ok && blob.Value == big, "the item was re-read from the source")
	names := replattr.Names{}
	gone := get("gone")
	assert.Nil(t, names.Visible(gone), "an item missing from the source is deleted")
	require.True(t, names.IsTombstone(gone), "the delete leaves a tombstone: raw item %v", gone)
	six, err := dynamo.PadSeq(fmt.Sprintf("%021d", 6))
	require.NoError(t, err)
	assert.Equal(t, six, names.SeqOf(gone))

	// The put the keys-only message stood for, redelivered: still deleted.
	r := record("gone", 4, 4)
	assert.Empty(t, invokeSQS(t, h, message(t, r)))
	assert.Nil(t, names.Visible(get("gone")), "an older put does not recreate the item")
}
