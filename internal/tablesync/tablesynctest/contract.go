// Package tablesynctest holds the contract suite of tablesync's read seam
// ([tablesync.TableReader]): [RunReaderContract] runs the same cases on
// every stand-in of the read API and on DynamoDB Local, so that a
// stand-in that drifts from DynamoDB fails a test.
package tablesynctest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Item is a DynamoDB item, or an item's key.
type Item = map[string]types.AttributeValue

// Reader is one implementation of tablesync.TableReader under
// [RunReaderContract]: a table called Table keyed by the partition key
// "pk" (S) and the sort key "sk" (N), holding the items it was made with.
type Reader struct {
	// API is the implementation under test.
	API tablesync.TableReader
	// Table names the table.
	Table string
}

// itemCount is how many items the suite's table holds: enough for several
// pages and segments.
const itemCount = 60

// Items returns the items the suite loads: itemCount items keyed pk=p<i>
// and sk=i, one of them holding every attribute type, some the queue
// path's deleted marker "_ddbsync_deleted".
func Items() []Item {
	items := make([]Item, itemCount)
	for i := range items {
		key := replicatetest.Key("p"+strconv.Itoa(i%7), strconv.Itoa(i))
		it := Item{"pk": key["pk"], "sk": key["sk"], "v": &types.AttributeValueMemberN{Value: strconv.Itoa(i)}}
		if i%5 == 0 {
			it["_ddbsync_deleted"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		items[i] = it
	}
	items[0] = replicatetest.AllTypes(replicatetest.Key("p0", "0"))
	return items
}

// id returns the identity of an item's key, numbers in one spelling.
func id(tb testing.TB, it Item) string {
	tb.Helper()
	sk := it["sk"].(*types.AttributeValueMemberN).Value
	n, err := strconv.ParseFloat(sk, 64)
	require.NoError(tb, err)
	key, ok := replicate.KeyID(Item{"pk": it["pk"], "sk": &types.AttributeValueMemberN{Value: strconv.FormatFloat(n, 'f', -1, 64)}})
	require.True(tb, ok)
	return key
}

// scanAll scans in to its end, following LastEvaluatedKey, and returns the
// items by key; it fails on a page larger than in.Limit or an item seen
// twice.
func scanAll(t *testing.T, r Reader, in dynamodb.ScanInput) map[string]Item {
	t.Helper()
	in.TableName = aws.String(r.Table)
	out := map[string]Item{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10*itemCount, "the scan ends")
		resp, err := r.API.Scan(t.Context(), &in)
		require.NoError(t, err)
		if in.Limit != nil {
			require.LessOrEqual(t, len(resp.Items), int(*in.Limit), "a page holds at most Limit items")
		}
		assert.EqualValues(t, len(resp.Items), resp.Count, "Count")
		for _, it := range resp.Items {
			k := id(t, it)
			require.NotContains(t, out, k, "an item is returned once")
			out[k] = it
		}
		if len(resp.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = resp.LastEvaluatedKey
	}
}

// assertAll checks that got holds exactly want, by key and by value.
func assertAll(t *testing.T, want []Item, got map[string]Item) {
	t.Helper()
	require.Len(t, got, len(want))
	for _, it := range want {
		g, ok := got[id(t, it)]
		if assert.True(t, ok, "item %s", replicatetest.Show(it)) {
			assert.True(t, tablecmp.EqualItems(it, g), "want %s\n got %s", replicatetest.Show(it), replicatetest.Show(g))
		}
	}
}

func isValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}

func keysOf(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = Item{"pk": it["pk"], "sk": it["sk"]}
	}
	return out
}

func (r Reader) batchGet(t *testing.T, keys []Item) (*dynamodb.BatchGetItemOutput, error) {
	t.Helper()
	return r.API.BatchGetItem(t.Context(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		r.Table: {Keys: keys, ConsistentRead: aws.Bool(true)},
	}})
}

// RunReaderContract runs the cases tablesync's Backfill and Verify rely on,
// on a Reader made by newReader with [Items]: DescribeTable's key schema,
// Scan's pages, segments and key projections, BatchGetItem's missing keys
// and number keys in any spelling, and the ValidationExceptions of a
// BatchGetItem with a key twice or more than 100 keys and of a segment out
// of range. newReader may be called once for several cases; the cases only
// read.
func RunReaderContract(t *testing.T, newReader func(t *testing.T, items []Item) Reader) {
	items := Items()
	r := newReader(t, items)
	t.Run("describe reports the key schema", func(t *testing.T) {
		info, err := tablesync.Describe(t.Context(), r.API, r.Table)
		require.NoError(t, err)
		assert.Equal(t, []string{"pk", "sk"}, info.Keys)
		assert.Equal(t, []types.ScalarAttributeType{types.ScalarAttributeTypeS, types.ScalarAttributeTypeN}, info.KeyTypes)
	})
	for _, limit := range []int32{0, 1, 7, itemCount, itemCount + 1} {
		t.Run(fmt.Sprintf("scan returns every item once, limit %d", limit), func(t *testing.T) {
			in := dynamodb.ScanInput{ConsistentRead: aws.Bool(true)}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			assertAll(t, items, scanAll(t, r, in))
		})
	}
	for _, total := range []int32{1, 3, 8} {
		t.Run(fmt.Sprintf("%d segments partition the table", total), func(t *testing.T) {
			all := map[string]Item{}
			for seg := range total {
				part := scanAll(t, r, dynamodb.ScanInput{Segment: aws.Int32(seg), TotalSegments: aws.Int32(total), Limit: aws.Int32(5)})
				for k, it := range part {
					require.NotContains(t, all, k, "an item is in one segment")
					all[k] = it
				}
			}
			assertAll(t, items, all)
		})
	}
	t.Run("a segment out of range is a ValidationException", func(t *testing.T) {
		_, err := r.API.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(r.Table), Segment: aws.Int32(3), TotalSegments: aws.Int32(3)})
		assert.True(t, isValidation(err), "got %v", err)
	})
	t.Run("a projection returns the keys and the attributes it names", func(t *testing.T) {
		got := scanAll(t, r, dynamodb.ScanInput{ProjectionExpression: aws.String("#k0, #k1, #k2"),
			ExpressionAttributeNames: map[string]string{"#k0": "pk", "#k1": "sk", "#k2": "_ddbsync_deleted"}})
		want := make([]Item, len(items))
		for i, it := range items {
			want[i] = Item{"pk": it["pk"], "sk": it["sk"]}
			if d, ok := it["_ddbsync_deleted"]; ok {
				want[i]["_ddbsync_deleted"] = d
			}
		}
		assertAll(t, want, got)
	})
	t.Run("batch get returns the items found and omits missing keys", func(t *testing.T) {
		keys := append(keysOf(items[:10]), replicatetest.Key("missing", "1"), replicatetest.Key("p0", "99999"))
		out, err := r.batchGet(t, keys)
		require.NoError(t, err)
		assert.Empty(t, out.UnprocessedKeys)
		got := map[string]Item{}
		for _, it := range out.Responses[r.Table] {
			got[id(t, it)] = it
		}
		assertAll(t, items[:10], got)
	})
	t.Run("batch get of only missing keys returns no item", func(t *testing.T) {
		out, err := r.batchGet(t, []Item{replicatetest.Key("missing", "1")})
		require.NoError(t, err)
		assert.Empty(t, out.Responses[r.Table])
		assert.Empty(t, out.UnprocessedKeys)
	})
	t.Run("batch get finds a number key in any spelling", func(t *testing.T) {
		out, err := r.batchGet(t, []Item{replicatetest.Key("p3", "1E+1")})
		require.NoError(t, err)
		require.Len(t, out.Responses[r.Table], 1)
		assert.True(t, tablecmp.EqualItems(items[10], out.Responses[r.Table][0]))
	})
	t.Run("batch get of a projection returns the keys", func(t *testing.T) {
		out, err := r.API.BatchGetItem(t.Context(), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			r.Table: {Keys: keysOf(items[:3]), ProjectionExpression: aws.String("#k0, #k1"), ExpressionAttributeNames: map[string]string{"#k0": "pk", "#k1": "sk"}},
		}})
		require.NoError(t, err)
		got := map[string]Item{}
		for _, it := range out.Responses[r.Table] {
			got[id(t, it)] = it
		}
		assertAll(t, keysOf(items[:3]), got)
	})
	t.Run("batch get with a key twice is a ValidationException", func(t *testing.T) {
		_, err := r.batchGet(t, []Item{replicatetest.Key("p1", "1"), replicatetest.Key("p1", "1")})
		assert.True(t, isValidation(err), "got %v", err)
	})
	t.Run("batch get of more than 100 keys is a ValidationException", func(t *testing.T) {
		var keys []Item
		for i := range 101 {
			keys = append(keys, replicatetest.Key("x", strconv.Itoa(i)))
		}
		_, err := r.batchGet(t, keys)
		assert.True(t, isValidation(err), "got %v", err)
	})
}
