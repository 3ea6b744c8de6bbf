package tablesync

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// memItems is an in-memory one-table fake of ItemWriter, keyed by the S
// attribute "pk". Its PutItem fails with putErr for the first failPuts
// calls.
type memItems struct {
	mu       sync.Mutex
	items    map[string]Item
	putErr   error
	failPuts int
	puts     int
	conds    []string
}

func pkOf(item Item) string { return item["pk"].(*types.AttributeValueMemberS).Value }

func (m *memItems) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !aws.ToBool(in.ConsistentRead) {
		return nil, apiErr("WantConsistentRead")
	}
	return &dynamodb.GetItemOutput{Item: m.items[pkOf(in.Key)]}, nil
}

func (m *memItems) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	m.conds = append(m.conds, aws.ToString(in.ConditionExpression))
	if m.puts <= m.failPuts {
		return nil, m.putErr
	}
	m.items[pkOf(in.Item)] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memItems) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, pkOf(in.Key))
	return &dynamodb.DeleteItemOutput{}, nil
}

func TestRepairer_Throttling(t *testing.T) {
	fast := RetryOptions{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}
	tests := map[string]struct {
		failPuts   int
		wantAction Action
		wantErr    error
		wantPuts   int
		wantStats  RepairStats
	}{
		"throttled twice, then written": {failPuts: 2, wantAction: ActionPut, wantPuts: 3, wantStats: RepairStats{Puts: 1}},
		"throttled every time: reported, not dropped": {failPuts: 100, wantAction: ActionNone, wantErr: dynamo.ErrRetriesExhausted,
			wantPuts: 3, wantStats: RepairStats{Failed: 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := &memItems{items: map[string]Item{"a": {"pk": sv("a"), "n": nv("2")}}}
			dst := &memItems{items: map[string]Item{}, putErr: apiErr("ProvisionedThroughputExceededException"), failPuts: tt.failPuts}
			r := NewRepairer(src, "s", dst, "t", RepairOptions{Retry: fast})
			act, err := r.Repair(t.Context(), Item{"pk": sv("a")})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, src.items["a"], dst.items["a"])
			}
			assert.Equal(t, tt.wantAction, act)
			assert.Equal(t, tt.wantPuts, dst.puts)
			assert.Equal(t, tt.wantStats, r.Stats())
			for _, c := range dst.conds {
				assert.Equal(t, "attribute_not_exists(#k)", c, "the write is conditioned on the target as read")
			}
		})
	}
}
