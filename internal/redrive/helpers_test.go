package redrive_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

type item = map[string]types.AttributeValue

func TestMain(m *testing.M) { testkit.Main(m) }

// tables creates "source" (with a stream) and "target" in a database of
// tb's own and returns the clients and the stream ARN.
func tables(tb testing.TB) (*dynamodb.Client, *dynamodbstreams.Client, string) {
	tb.Helper()
	s := testkit.DDB(tb)
	keyID := testkit.AccessKeyID(tb)
	db := s.DynamoDB(keyID)
	arn, err := ddblocal.CreateTable(tb.Context(), db, ddblocal.TableSpec{Name: "source", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(tb, err)
	_, err = ddblocal.CreateTable(tb.Context(), db, ddblocal.TableSpec{Name: "target", HashKey: "id"})
	require.NoError(tb, err)
	return db, s.Streams(keyID), arn
}

func keyOf(id string) item { return item{"id": &types.AttributeValueMemberS{Value: id}} }

// version returns item id at version v.
func version(id string, v int) item {
	return item{"id": &types.AttributeValueMemberS{Value: id}, "v": &types.AttributeValueMemberN{Value: strconv.Itoa(v)}}
}

func put(tb testing.TB, db *dynamodb.Client, table string, it item) {
	tb.Helper()
	_, err := db.PutItem(tb.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
	require.NoError(tb, err)
}

func del(tb testing.TB, db *dynamodb.Client, table, id string) {
	tb.Helper()
	_, err := db.DeleteItem(tb.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: keyOf(id)})
	require.NoError(tb, err)
}

// get reads item id with ConsistentRead; nil if there is none.
func get(tb testing.TB, db *dynamodb.Client, table, id string) item {
	tb.Helper()
	out, err := db.GetItem(tb.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: keyOf(id), ConsistentRead: aws.Bool(true)})
	require.NoError(tb, err)
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

// batchOf returns the BatchInfo of the stream records first..last
// (0-based, in stream order) of the only shard of arn.
func batchOf(tb testing.TB, streams *dynamodbstreams.Client, arn string, first, last int) streampoll.BatchInfo {
	tb.Helper()
	desc, err := streams.DescribeStream(tb.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	require.NoError(tb, err)
	shard := aws.ToString(desc.StreamDescription.Shards[0].ShardId)
	it, err := streams.GetShardIterator(tb.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(tb, err)
	recs, err := streams.GetRecords(tb.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(tb, err)
	require.Greater(tb, len(recs.Records), last)
	return streampoll.BatchInfo{
		ShardID: shard, StreamARN: arn, BatchSize: last - first + 1,
		StartSequenceNumber: aws.ToString(recs.Records[first].Dynamodb.SequenceNumber),
		EndSequenceNumber:   aws.ToString(recs.Records[last].Dynamodb.SequenceNumber),
	}
}

var errRejected = errors.New("target rejects this key")

// failWriter is a target that rejects every write of the keys in fail (by
// KeyID), as a target that cannot take an item would (schema,
// permissions), and passes the rest on.
type failWriter struct {
	tablesync.ItemWriter
	fail map[string]bool
}

func (f *failWriter) rejects(key item) bool {
	id, _ := replicate.KeyID(key)
	return f.fail[id]
}

func (f *failWriter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.rejects(item{"id": in.Item["id"]}) {
		return nil, errRejected
	}
	return f.ItemWriter.PutItem(ctx, in, opts...)
}

func (f *failWriter) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if f.rejects(in.Key) {
		return nil, errRejected
	}
	return f.ItemWriter.DeleteItem(ctx, in, opts...)
}

func rejecting(w tablesync.ItemWriter, ids ...string) *failWriter {
	f := &failWriter{ItemWriter: w, fail: map[string]bool{}}
	for _, id := range ids {
		kid, _ := replicate.KeyID(keyOf(id))
		f.fail[kid] = true
	}
	return f
}
