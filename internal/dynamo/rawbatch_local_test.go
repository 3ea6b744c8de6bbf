package dynamo_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// TestTable_RawRoundTrip_DynamoDBLocal writes the same images through the
// raw path and through the typed path (Options.Typed) into two tables of
// DynamoDB Local, and checks that every item reads back identically, and
// that a raw delete removes what it names.
func TestTable_RawRoundTrip_DynamoDBLocal(t *testing.T) {
	images := []string{
		`{"pk":{"S":"all"},"sk":{"N":"1"},"n38":{"N":"12345678901234567890123456789012345678"},` +
			`"neg38":{"N":"-9.9999999999999999999999999999999999999E+125"},"tiny":{"N":"1E-130"},"negzero":{"N":"-0"},` +
			`"s":{"S":"line\nbreak \"q\" \u00e9 😀 \\"},"b":{"B":"AAEC/w=="},"t":{"BOOL":true},"f":{"BOOL":false},` +
			`"nul":{"NULL":true},"ss":{"SS":["a","\"q\"","😀","\ud83d\ude00x"]},"ns":{"NS":["1","2.5","-3E+2"]},` +
			`"bs":{"BS":["AA==","AQ=="]},"l":{"L":[{"S":""},{"N":"0"},{"M":{}},{"L":[]}]},` +
			`"m":{"M":{"x":{"M":{"y":{"L":[{"NULL":true},{"SS":["z"]}]}}}}}}`,
		`{"pk":{"S":"big"},"sk":{"N":"2"},"pad":{"S":"` + strings.Repeat("x", 380<<10) + `"}}`,
		`{"pk":{"S":"unnormalised"},"sk":{"N":"0003.50"},"v":{"N":"007"}}`,
		`{"pk":{"S":"gone"},"sk":{"N":"4"}}`,
	}
	ctx := t.Context()
	db := testkit.DDB(t).DynamoDB(testkit.AccessKeyID(t))
	for _, name := range []string{"raw-target", "typed-target"} {
		_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: name, HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN})
		require.NoError(t, err)
	}
	raw := dynamo.NewTable(db, "raw-target", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2}})
	typed := dynamo.NewTable(db, "typed-target", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2}, Typed: true})
	require.True(t, raw.Raw())
	require.False(t, typed.Raw())

	var rawWrites, typedWrites []replicate.Write
	var keys []map[string]types.AttributeValue
	for _, img := range images {
		item, err := replicate.DecodeImage([]byte(img))
		require.NoError(t, err)
		key := replicate.Project(item, map[string]types.AttributeValue{"pk": nil, "sk": nil})
		id, ok := replicate.KeyID(key)
		require.True(t, ok)
		forward, err := replicate.CheckImage([]byte(img))
		require.NoError(t, err)
		require.True(t, forward)
		rawKey, err := keyJSON(key)
		require.NoError(t, err)
		rawWrites = append(rawWrites, replicate.Write{Op: replicate.OpPut, KeyID: id, RawKey: rawKey, RawItem: []byte(img)})
		typedWrites = append(typedWrites, replicate.Write{Op: replicate.OpPut, KeyID: id, Key: key, Item: item})
		keys = append(keys, key)
	}
	errs, _ := raw.WriteBatch(ctx, rawWrites)
	require.Nil(t, errs)
	errs, _ = typed.WriteBatch(ctx, typedWrites)
	require.Nil(t, errs)

	get := func(table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		require.NoError(t, err)
		return out.Item
	}
	for i, key := range keys {
		got, want := get("raw-target", key), get("typed-target", key)
		require.NotNil(t, want, "image %d stored by the typed path", i)
		assert.Equal(t, want, got, "image %d stored identically", i)
	}

	last := rawWrites[len(rawWrites)-1]
	errs, _ = raw.WriteBatch(ctx, []replicate.Write{{Op: replicate.OpDelete, KeyID: last.KeyID, RawKey: last.RawKey}})
	require.Nil(t, errs)
	assert.Nil(t, get("raw-target", keys[len(keys)-1]), "the raw delete removed the item")
}

// keyJSON is a key in DynamoDB JSON, as a stream record's Keys.
func keyJSON(key map[string]types.AttributeValue) ([]byte, error) {
	return attributevalue.MarshalMapJSON(key)
}
