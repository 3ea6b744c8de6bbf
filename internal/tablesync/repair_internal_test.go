package tablesync

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/dynamo/dynamotest"
)

var _ ItemWriter = (*dynamotest.MemTable)(nil)

// memItems returns an in-memory table keyed by the S attribute "pk" that
// wants strongly consistent reads and fails its first failPuts PutItem
// calls with putErr.
func memItems(name string, putErr error, failPuts int, items ...Item) *dynamotest.MemTable {
	m := dynamotest.NewMemTable(name, "pk").Load(items...)
	m.RequireConsistentRead = true
	m.Inject = func(op string, call int) error {
		if op == dynamotest.OpPutItem && call <= failPuts {
			return putErr
		}
		return nil
	}
	return m
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
			src := memItems("s", nil, 0, Item{"pk": sv("a"), "n": nv("2")})
			dst := memItems("t", apiErr("ProvisionedThroughputExceededException"), tt.failPuts)
			r := NewRepairer(src, "s", dst, "t", RepairOptions{Retry: fast})
			act, err := r.Repair(t.Context(), Item{"pk": sv("a")})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, src.Get(Item{"pk": sv("a")}), dst.Get(Item{"pk": sv("a")}))
			}
			assert.Equal(t, tt.wantAction, act)
			assert.Equal(t, tt.wantPuts, dst.Calls(dynamotest.OpPutItem))
			assert.Equal(t, tt.wantStats, r.Stats())
			for _, c := range dst.Conditions() {
				assert.Equal(t, "attribute_not_exists(#k)", c, "the write is conditioned on the target as read")
			}
		})
	}
}
