package demo

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingAPI is a fake API that records the calls and may fail one.
type recordingAPI struct {
	mu    sync.Mutex
	calls []any
	fail  error
}

func (r *recordingAPI) record(in any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, in)
	return r.fail
}

func (r *recordingAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if in.ConditionExpression != nil {
		return nil, &types.ConditionalCheckFailedException{}
	}
	return &dynamodb.PutItemOutput{}, r.record(in)
}

func (r *recordingAPI) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return &dynamodb.UpdateItemOutput{}, r.record(in)
}

func (r *recordingAPI) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return &dynamodb.DeleteItemOutput{}, r.record(in)
}

func (r *recordingAPI) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{}, r.record(in)
}

func TestWorkload_Run(t *testing.T) {
	api := &recordingAPI{}
	var progress int
	var mu sync.Mutex
	w := Workload{Table: "src", Keys: 20, Seed: 7, Progress: func(done int) {
		mu.Lock()
		progress = max(progress, done)
		mu.Unlock()
	}}
	counts, err := w.Run(t.Context(), api, 1000)
	require.NoError(t, err)
	assert.Equal(t, 1000, counts.Total())
	assert.Equal(t, 1000, progress)
	for name, n := range map[string]int{"puts": counts.Puts, "updates": counts.Updates, "deletes": counts.Deletes, "batches": counts.BatchWrites, "conditional": counts.ConditionalFailures} {
		assert.Positive(t, n, name)
	}

	kinds := map[string]bool{}
	keys := map[string]bool{}
	for _, c := range api.calls {
		if put, ok := c.(*dynamodb.PutItemInput); ok {
			collectTypes(put.Item, kinds)
			keys[keyID(put.Item)] = true
		}
		if b, ok := c.(*dynamodb.BatchWriteItemInput); ok {
			seen := map[string]bool{}
			for _, r := range b.RequestItems["src"] {
				var key map[string]types.AttributeValue
				if r.DeleteRequest != nil {
					key = r.DeleteRequest.Key
				} else {
					key = r.PutRequest.Item
				}
				assert.False(t, seen[keyID(key)], "duplicate key in one batch")
				seen[keyID(key)] = true
			}
		}
	}
	assert.Len(t, kinds, 10, "all ten attribute types: %v", kinds)
	assert.LessOrEqual(t, len(keys), 20, "keys stay in the keyspace")
}

func TestWorkload_Deterministic(t *testing.T) {
	a, b := newGenerator("t", 50, 42), newGenerator("t", 50, 42)
	for range 200 {
		assert.Equal(t, a.next(), b.next())
	}
	c := newGenerator("t", 50, 43)
	assert.NotEqual(t, a.next(), c.next())
}

func TestWorkload_Run_Error(t *testing.T) {
	boom := errors.New("boom")
	_, err := Workload{Table: "src"}.Run(t.Context(), &recordingAPI{fail: boom}, 100)
	require.ErrorIs(t, err, boom)
	_, err = Workload{}.Run(t.Context(), &recordingAPI{}, 1)
	assert.Error(t, err)
}

func keyID(item map[string]types.AttributeValue) string {
	return item[PartitionKey].(*types.AttributeValueMemberS).Value + "/" + item[SortKey].(*types.AttributeValueMemberN).Value
}

// collectTypes adds the type names used in item, recursively.
func collectTypes(item map[string]types.AttributeValue, kinds map[string]bool) {
	for _, v := range item {
		collectType(v, kinds)
	}
}

func collectType(v types.AttributeValue, kinds map[string]bool) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		kinds["S"] = true
	case *types.AttributeValueMemberN:
		kinds["N"] = true
	case *types.AttributeValueMemberB:
		kinds["B"] = true
	case *types.AttributeValueMemberBOOL:
		kinds["BOOL"] = true
	case *types.AttributeValueMemberNULL:
		kinds["NULL"] = true
	case *types.AttributeValueMemberSS:
		kinds["SS"] = true
	case *types.AttributeValueMemberNS:
		kinds["NS"] = true
	case *types.AttributeValueMemberBS:
		kinds["BS"] = true
	case *types.AttributeValueMemberL:
		kinds["L"] = true
		for _, e := range v.Value {
			collectType(e, kinds)
		}
	case *types.AttributeValueMemberM:
		kinds["M"] = true
		collectTypes(v.Value, kinds)
	}
}
