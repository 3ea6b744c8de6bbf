package dynamo_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// guardNow is the fixed clock of the guard under test.
var guardNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newLocalGuard(tb testing.TB, db *dynamodb.Client) *dynamo.SeqGuard {
	tb.Helper()
	t := dynamo.NewTable(db, "target", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	return dynamo.NewSeqGuard(t, replattr.Names{}, dynamo.GuardOptions{Now: func() time.Time { return guardNow }})
}

func localPut(pk string, seq int) replicate.Write {
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
	return replicate.Write{Op: replicate.OpPut, Key: key, Seq: strconv.Itoa(seq),
		Item: map[string]types.AttributeValue{"pk": key["pk"], "v": &types.AttributeValueMemberN{Value: strconv.Itoa(seq)}}}
}

func localDelete(pk string, seq int) replicate.Write {
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
	return replicate.Write{Op: replicate.OpDelete, Key: key, Seq: strconv.Itoa(seq)}
}

// TestSeqGuard_Tombstones_DynamoDBLocal applies sequences of guarded writes
// to one item with DynamoDB Local's real condition expressions and checks
// what a reader sees through replattr.Names.Visible, and the raw item.
func TestSeqGuard_Tombstones_DynamoDBLocal(t *testing.T) {
	names := replattr.Names{}.WithDefaults()
	tests := map[string]struct {
		writes []replicate.Write // applied one call each, in order
		want   map[string]types.AttributeValue
		// tombstoneSeq, when set, is the seq the raw item's tombstone must carry.
		tombstoneSeq int
	}{
		"redelivered older put after a delete stays deleted": {
			writes:       []replicate.Write{localPut("a", 10), localDelete("a", 20), localPut("a", 10)},
			tombstoneSeq: 20,
		},
		"older put arriving after a delete of a never-seen item": {
			writes:       []replicate.Write{localDelete("a", 20), localPut("a", 10)},
			tombstoneSeq: 20,
		},
		"newer put after a delete recreates the item": {
			writes: []replicate.Write{localPut("a", 10), localDelete("a", 20), localPut("a", 30)},
			want:   map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "v": &types.AttributeValueMemberN{Value: "30"}},
		},
		"delete older than a put is skipped": {
			writes: []replicate.Write{localPut("a", 30), localDelete("a", 20)},
			want:   map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "v": &types.AttributeValueMemberN{Value: "30"}},
		},
		"older delete after a delete keeps the newer tombstone": {
			writes:       []replicate.Write{localDelete("a", 20), localDelete("a", 15)},
			tombstoneSeq: 20,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			db := testkit.DDB(t).DynamoDB(testkit.AccessKeyID(t))
			_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
			require.NoError(t, err)
			g := newLocalGuard(t, db)
			for _, w := range tt.writes {
				errs, _ := g.WriteBatch(ctx, []replicate.Write{w})
				require.Nil(t, errs, "%s seq %s", w.Op, w.Seq)
			}
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("target"), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}}})
			require.NoError(t, err)
			assert.Equal(t, tt.want, names.Visible(out.Item), "what a reader of the target sees")
			if tt.tombstoneSeq == 0 {
				require.NotNil(t, out.Item)
				assert.NotContains(t, out.Item, names.Deleted, "a put replaces the tombstone whole")
				assert.NotContains(t, out.Item, names.Expires)
				return
			}
			require.True(t, names.IsTombstone(out.Item), "raw item %v", out.Item)
			padded, err := dynamo.PadSeq(strconv.Itoa(tt.tombstoneSeq))
			require.NoError(t, err)
			assert.Equal(t, padded, names.SeqOf(out.Item))
			assert.Equal(t, &types.AttributeValueMemberBOOL{Value: true}, out.Item[names.Deleted])
			want := guardNow.Add(dynamo.DefaultTombstoneRetention).Unix()
			assert.Equal(t, &types.AttributeValueMemberN{Value: strconv.FormatInt(want, 10)}, out.Item[names.Expires])
			assert.Len(t, out.Item, 4, "key, seq, deleted, expires")
		})
	}
}
