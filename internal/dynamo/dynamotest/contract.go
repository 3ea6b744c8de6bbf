package dynamotest

import (
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Target is one implementation of [API] under [RunAPIContract]: a table
// called Table keyed by the partition key "pk" (S) and the sort key "sk"
// (N), empty at first.
type Target struct {
	// API is the implementation under test.
	API API
	// Table names the table.
	Table string
}

// Key returns the key pk=pk (S), sk=sk (N, spelled as given).
func Key(pk, sk string) Item { return replicatetest.Key(pk, sk) }

func with(key Item, attrs Item) Item {
	out := make(Item, len(key)+len(attrs))
	for k, v := range key {
		out[k] = v
	}
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

func num(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func (tg Target) get(t *testing.T, key Item) Item {
	t.Helper()
	out, err := tg.API.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(tg.Table), Key: key, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

func (tg Target) assertItem(t *testing.T, key, want Item) {
	t.Helper()
	got := tg.get(t, key)
	if want == nil {
		assert.Nil(t, got, "no item at %s", replicatetest.Show(key))
		return
	}
	require.NotNil(t, got, "an item at %s", replicatetest.Show(key))
	assert.True(t, tablecmp.EqualItems(want, got), "item at %s:\nwant %s\n got %s", replicatetest.Show(key), replicatetest.Show(want), replicatetest.Show(got))
}

func (tg Target) batch(t *testing.T, reqs ...types.WriteRequest) error {
	t.Helper()
	out, err := tg.API.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tg.Table: reqs}})
	if err == nil {
		require.Empty(t, out.UnprocessedItems, "a small batch is processed whole")
	}
	return err
}

func putReq(item Item) types.WriteRequest {
	return types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
}

func delReq(key Item) types.WriteRequest {
	return types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}}
}

// cond is a condition expression with its placeholders.
type cond struct {
	expr   string
	names  map[string]string
	values map[string]types.AttributeValue
}

func (tg Target) put(t *testing.T, item Item, c *cond) error {
	t.Helper()
	in := &dynamodb.PutItemInput{TableName: aws.String(tg.Table), Item: item}
	if c != nil {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = aws.String(c.expr), c.names, c.values
	}
	_, err := tg.API.PutItem(t.Context(), in)
	return err
}

func (tg Target) del(t *testing.T, key Item, c *cond) error {
	t.Helper()
	in := &dynamodb.DeleteItemInput{TableName: aws.String(tg.Table), Key: key}
	if c != nil {
		in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = aws.String(c.expr), c.names, c.values
	}
	_, err := tg.API.DeleteItem(t.Context(), in)
	return err
}

// isValidation reports whether err is DynamoDB's ValidationException.
func isValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// guard is dynamo.SeqGuard's condition for a write at seq.
func guard(seq string) *cond {
	return &cond{expr: "attribute_not_exists(#seq) OR #seq < :seq", names: map[string]string{"#seq": "_seq"},
		values: map[string]types.AttributeValue{":seq": str(seq)}}
}

// RunAPIContract runs the cases that callers of the item-write API rely
// on, on a new Target per case: BatchWriteItem's puts and deletes and its
// ValidationExceptions (duplicate keys, a put and a delete of one key, more
// than 25 requests), deletes of missing items, the conditions of
// dynamo.SeqGuard and tablesync.Repairer (attribute_exists,
// attribute_not_exists, equality with numbers as numbers and sets as sets,
// the guard's string order), and the ValidationExceptions of an unused
// placeholder or a put without its key.
func RunAPIContract(t *testing.T, newTarget func(t *testing.T) Target) {
	a1 := Key("a", "1")
	tests := map[string]func(t *testing.T, tg Target){
		"batch puts and deletes by key": func(t *testing.T, tg Target) {
			require.NoError(t, tg.batch(t, putReq(with(a1, Item{"v": num("1")})), putReq(replicatetest.AllTypes(Key("a", "2")))))
			require.NoError(t, tg.batch(t, delReq(a1), delReq(Key("missing", "1")), putReq(with(Key("b", "1"), Item{"v": num("3")}))))
			tg.assertItem(t, a1, nil)
			tg.assertItem(t, Key("a", "2"), replicatetest.AllTypes(Key("a", "2")))
			tg.assertItem(t, Key("b", "1"), with(Key("b", "1"), Item{"v": num("3")}))
		},
		"batch with a key twice is a ValidationException and writes nothing": func(t *testing.T, tg Target) {
			err := tg.batch(t, putReq(with(Key("c", "1"), Item{"v": num("0")})), putReq(with(a1, Item{"v": num("1")})), putReq(with(a1, Item{"v": num("2")})))
			assert.True(t, isValidation(err), "got %v", err)
			tg.assertItem(t, Key("c", "1"), nil)
			tg.assertItem(t, a1, nil)
		},
		"batch with a key twice in two spellings is a ValidationException": func(t *testing.T, tg Target) {
			err := tg.batch(t, putReq(with(Key("a", "10"), Item{"v": num("1")})), putReq(with(Key("a", "1E+1"), Item{"v": num("2")})))
			assert.True(t, isValidation(err), "got %v", err)
		},
		"batch with a put and a delete of one key is a ValidationException": func(t *testing.T, tg Target) {
			err := tg.batch(t, putReq(with(a1, Item{"v": num("1")})), delReq(a1))
			assert.True(t, isValidation(err), "got %v", err)
		},
		"batch of more than 25 requests is a ValidationException": func(t *testing.T, tg Target) {
			var reqs []types.WriteRequest
			for i := range 26 {
				reqs = append(reqs, putReq(with(Key("k"+strconv.Itoa(i), "1"), Item{})))
			}
			err := tg.batch(t, reqs...)
			assert.True(t, isValidation(err), "got %v", err)
			tg.assertItem(t, Key("k0", "1"), nil)
		},
		"put replaces the whole item and delete of a missing item succeeds": func(t *testing.T, tg Target) {
			require.NoError(t, tg.put(t, with(a1, Item{"old": num("1")}), nil))
			require.NoError(t, tg.put(t, with(a1, Item{"new": num("2")}), nil))
			tg.assertItem(t, a1, with(a1, Item{"new": num("2")}))
			require.NoError(t, tg.del(t, Key("missing", "1"), nil))
			require.NoError(t, tg.del(t, a1, nil))
			tg.assertItem(t, a1, nil)
		},
		"a number key is one item whatever its spelling": func(t *testing.T, tg Target) {
			require.NoError(t, tg.put(t, with(Key("a", "10"), Item{"v": num("1")}), nil))
			require.NoError(t, tg.put(t, with(Key("a", "1E+1"), Item{"v": num("2")}), nil))
			tg.assertItem(t, Key("a", "10.0"), with(Key("a", "10"), Item{"v": num("2")}))
			require.NoError(t, tg.del(t, Key("a", "10.00"), nil))
			tg.assertItem(t, Key("a", "10"), nil)
		},
		"guard: newer wins, equal and older are refused": func(t *testing.T, tg Target) {
			require.NoError(t, tg.put(t, with(a1, Item{"_seq": str("0020"), "v": num("20")}), guard("0020")), "no item yet")
			require.NoError(t, tg.put(t, with(a1, Item{"_seq": str("0030"), "v": num("30")}), guard("0030")))
			for _, seq := range []string{"0030", "0029", "0003"} {
				err := tg.put(t, with(a1, Item{"_seq": str(seq), "v": num("0")}), guard(seq))
				assert.True(t, isConditionFailed(err), "seq %s: got %v", seq, err)
			}
			tg.assertItem(t, a1, with(a1, Item{"_seq": str("0030"), "v": num("30")}))
		},
		"guard: a tombstone refuses older puts": func(t *testing.T, tg Target) {
			tomb := with(a1, Item{"_seq": str("0020"), "_deleted": &types.AttributeValueMemberBOOL{Value: true}, "_expires": num("1000")})
			require.NoError(t, tg.put(t, tomb, guard("0020")))
			err := tg.put(t, with(a1, Item{"_seq": str("0010")}), guard("0010"))
			assert.True(t, isConditionFailed(err), "got %v", err)
			tg.assertItem(t, a1, tomb)
			require.NoError(t, tg.put(t, with(a1, Item{"_seq": str("0030")}), guard("0030")))
			tg.assertItem(t, a1, with(a1, Item{"_seq": str("0030")}))
		},
		"attribute_not_exists of the key: only when there is no item": func(t *testing.T, tg Target) {
			c := &cond{expr: "attribute_not_exists(#k)", names: map[string]string{"#k": "pk"}}
			require.NoError(t, tg.put(t, with(a1, Item{"v": num("1")}), c))
			assert.True(t, isConditionFailed(tg.put(t, with(a1, Item{"v": num("2")}), c)))
			assert.True(t, isConditionFailed(tg.del(t, a1, c)))
			tg.assertItem(t, a1, with(a1, Item{"v": num("1")}))
		},
		"attribute_exists of the key: only when there is an item": func(t *testing.T, tg Target) {
			c := &cond{expr: "attribute_exists(#k)", names: map[string]string{"#k": "pk"}}
			assert.True(t, isConditionFailed(tg.put(t, with(a1, Item{"v": num("1")}), c)))
			assert.True(t, isConditionFailed(tg.del(t, a1, c)))
			tg.assertItem(t, a1, nil)
		},
		"equality compares numbers as numbers and sets as sets": func(t *testing.T, tg Target) {
			stored := with(a1, Item{"n": num("1.50"), "ns": &types.AttributeValueMemberNS{Value: []string{"1", "20"}},
				"ss": &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
				"m":  &types.AttributeValueMemberM{Value: Item{"n": num("100")}}})
			require.NoError(t, tg.put(t, stored, nil))
			same := &cond{expr: "attribute_exists(#k) AND #a0 = :v0 AND #a1 = :v1 AND #a2 = :v2 AND #a3 = :v3 AND attribute_not_exists(#r0)",
				names: map[string]string{"#k": "pk", "#a0": "n", "#a1": "ns", "#a2": "ss", "#a3": "m", "#r0": "_seq"},
				values: map[string]types.AttributeValue{":v0": num("1.5"), ":v1": &types.AttributeValueMemberNS{Value: []string{"2E+1", "1.0"}},
					":v2": &types.AttributeValueMemberSS{Value: []string{"y", "x"}}, ":v3": &types.AttributeValueMemberM{Value: Item{"n": num("1E+2")}}}}
			require.NoError(t, tg.put(t, with(a1, Item{"v": num("2")}), same), "every clause holds")
			tg.assertItem(t, a1, with(a1, Item{"v": num("2")}))
		},
		"equality holds for every attribute type": func(t *testing.T, tg Target) {
			stored := replicatetest.AllTypes(a1)
			require.NoError(t, tg.put(t, stored, nil))
			c := &cond{expr: "attribute_exists(#k)", names: map[string]string{"#k": "pk"}, values: map[string]types.AttributeValue{}}
			i := 0
			for name, v := range stored {
				if name == "pk" || name == "sk" {
					continue
				}
				n, ref := "#a"+strconv.Itoa(i), ":v"+strconv.Itoa(i)
				c.expr += " AND " + n + " = " + ref
				c.names[n], c.values[ref] = name, v
				i++
			}
			require.NoError(t, tg.put(t, with(a1, Item{"v": num("2")}), c), "%s", c.expr)
			tg.assertItem(t, a1, with(a1, Item{"v": num("2")}))
		},
		"equality fails on another value, another type or a missing attribute": func(t *testing.T, tg Target) {
			require.NoError(t, tg.put(t, with(a1, Item{"n": num("1"), "s": str("1")}), nil))
			for name, c := range map[string]*cond{
				"value":   {expr: "#a = :v", names: map[string]string{"#a": "n"}, values: map[string]types.AttributeValue{":v": num("2")}},
				"type":    {expr: "#a = :v", names: map[string]string{"#a": "s"}, values: map[string]types.AttributeValue{":v": num("1")}},
				"missing": {expr: "#a = :v", names: map[string]string{"#a": "nope"}, values: map[string]types.AttributeValue{":v": num("1")}},
			} {
				assert.True(t, isConditionFailed(tg.put(t, with(a1, Item{}), c)), name)
				assert.True(t, isConditionFailed(tg.del(t, a1, c)), name)
			}
			tg.assertItem(t, a1, with(a1, Item{"n": num("1"), "s": str("1")}))
		},
		"an unused placeholder is a ValidationException": func(t *testing.T, tg Target) {
			err := tg.put(t, with(a1, Item{}), &cond{expr: "attribute_not_exists(#k)", names: map[string]string{"#k": "pk", "#x": "x"}})
			assert.True(t, isValidation(err), "unused name: got %v", err)
			err = tg.put(t, with(a1, Item{}), &cond{expr: "attribute_not_exists(#k)", names: map[string]string{"#k": "pk"},
				values: map[string]types.AttributeValue{":v": num("1")}})
			assert.True(t, isValidation(err), "unused value: got %v", err)
			tg.assertItem(t, a1, nil)
		},
		"a put without its key is a ValidationException": func(t *testing.T, tg Target) {
			assert.True(t, isValidation(tg.put(t, Item{"pk": str("a"), "v": num("1")}, nil)))
			assert.True(t, isValidation(tg.batch(t, putReq(Item{"pk": str("a"), "v": num("1")}))))
		},
		"an item DynamoDB refuses is a ValidationException": func(t *testing.T, tg Target) {
			for name, bad := range replicatetest.InvalidItems(a1) {
				assert.True(t, isValidation(tg.put(t, bad, nil)), "PutItem of %s", name)
				assert.True(t, isValidation(tg.batch(t, putReq(bad), putReq(with(Key("good", "1"), Item{})))), "BatchWriteItem of %s", name)
			}
			tg.assertItem(t, a1, nil)
			tg.assertItem(t, Key("good", "1"), nil)
			assert.True(t, isValidation(tg.del(t, Key("", "1"), nil)), "DeleteItem of an empty string key")
		},
		"GetItem of a missing item has no item": func(t *testing.T, tg Target) {
			tg.assertItem(t, Key("missing", "1"), nil)
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { tc(t, newTarget(t)) })
	}
}
