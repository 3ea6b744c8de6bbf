package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// change builds a test change of key pk=k.
func change(seq string, op replicate.Op, k string, version int) replicate.Change {
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}
	id, _ := replicate.KeyID(key)
	c := replicate.Change{Seq: seq, Op: op, Key: key, KeyID: id}
	if op == replicate.OpPut {
		c.NewImage = []byte(fmt.Sprintf(`{"pk":{"S":%q},"v":{"N":"%d"}}`, k, version))
	}
	return c
}

func keyID(k string) string {
	id, _ := replicate.KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}})
	return id
}

func version(t *testing.T, w *replicatetest.MemWriter, k string) string {
	t.Helper()
	item, ok := w.Items()[keyID(k)]
	if !ok {
		return "absent"
	}
	return item["v"].(*types.AttributeValueMemberN).Value
}

func TestReplicator_Apply(t *testing.T) {
	put, del := replicate.OpPut, replicate.OpDelete
	tests := map[string]struct {
		changes    []replicate.Change
		reject     []string
		want       map[string]string // key -> version or "absent"
		wantFailed string
		wantRes    replicate.Result // counts compared, FailedSeq and errors ignored
	}{
		"last change per key wins": {
			changes: []replicate.Change{
				change("1", put, "a", 1), change("2", put, "b", 1), change("3", put, "a", 2),
				change("4", del, "b", 0), change("5", put, "c", 1), change("6", put, "a", 3),
			},
			want:    map[string]string{"a": "3", "b": "absent", "c": "1"},
			wantRes: replicate.Result{Received: 6, Puts: 2, Deletes: 1, Collapsed: 3},
		},
		"delete then re-insert": {
			changes: []replicate.Change{change("1", put, "a", 1), change("2", del, "a", 0), change("3", put, "a", 2)},
			want:    map[string]string{"a": "2"},
			wantRes: replicate.Result{Received: 3, Puts: 1, Collapsed: 2},
		},
		"failed key reports its first record": {
			changes: []replicate.Change{
				change("10", put, "a", 1), change("11", put, "b", 1), change("12", put, "b", 2), change("13", put, "c", 1),
			},
			reject:     []string{"b"},
			want:       map[string]string{"a": "1", "b": "absent", "c": "1"},
			wantFailed: "11",
			wantRes:    replicate.Result{Received: 4, Puts: 2, Collapsed: 1, FailedRecords: 2, FailedKeys: 1},
		},
		"several failed keys report the earliest": {
			changes: []replicate.Change{
				change("10", put, "a", 1), change("11", put, "b", 1), change("12", put, "c", 1), change("13", put, "a", 2),
			},
			reject:     []string{"c", "a"},
			want:       map[string]string{"a": "absent", "b": "1", "c": "absent"},
			wantFailed: "10",
			wantRes:    replicate.Result{Received: 4, Puts: 1, Collapsed: 1, FailedRecords: 3, FailedKeys: 2},
		},
		"sequence numbers of different lengths compare as integers": {
			changes: []replicate.Change{
				change("999", put, "a", 1), change("1000", put, "b", 1), change("1001", put, "c", 1),
			},
			reject:     []string{"b", "a"},
			want:       map[string]string{"c": "1"},
			wantFailed: "999",
			wantRes:    replicate.Result{Received: 3, Puts: 1, FailedRecords: 2, FailedKeys: 2},
		},
		"undecodable record without key fails at its own sequence": {
			changes: []replicate.Change{
				change("1", put, "a", 1),
				{Seq: "2", Err: errors.New("record 2: no usable Keys")},
				change("3", put, "b", 1),
			},
			want:       map[string]string{"a": "1", "b": "1"},
			wantFailed: "2",
			wantRes:    replicate.Result{Received: 3, Puts: 2, FailedRecords: 1},
		},
		"bad last image fails the key from its first record": {
			changes: []replicate.Change{
				change("1", put, "a", 1), change("2", put, "b", 1),
				func() replicate.Change {
					c := change("3", put, "a", 2)
					c.NewImage = []byte(`{"pk":{"S":"a"},"v":{"N":"x"}}`)
					return c
				}(),
			},
			want:       map[string]string{"a": "absent", "b": "1"},
			wantFailed: "1",
			wantRes:    replicate.Result{Received: 3, Puts: 1, Collapsed: 1, FailedRecords: 2, FailedKeys: 1},
		},
		"bad superseded image is not skipped": {
			changes: []replicate.Change{
				func() replicate.Change {
					c := change("1", put, "a", 1)
					c.NewImage = []byte(`{"pk":{"S":"a"},"s":{"SS":[]}}`)
					return c
				}(),
				change("2", put, "a", 2), change("3", put, "b", 1),
			},
			want:       map[string]string{"a": "absent", "b": "1"},
			wantFailed: "1",
			wantRes:    replicate.Result{Received: 3, Puts: 1, Collapsed: 1, FailedRecords: 2, FailedKeys: 1},
		},
		"record error marks its key": {
			changes: []replicate.Change{
				change("5", put, "a", 1),
				func() replicate.Change {
					c := change("6", put, "a", 2)
					c.Err = errors.New("INSERT without NewImage")
					return c
				}(),
			},
			want:       map[string]string{"a": "absent"},
			wantFailed: "5",
			wantRes:    replicate.Result{Received: 2, Collapsed: 1, FailedRecords: 2, FailedKeys: 1},
		},
		"empty batch": {
			want:    map[string]string{},
			wantRes: replicate.Result{},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := replicatetest.NewMemWriter()
			for _, k := range tt.reject {
				w.Reject[keyID(k)] = true
			}
			res := replicate.New(w, replicate.Options{}).Apply(context.Background(), tt.changes)

			assert.Equal(t, tt.wantFailed, res.FailedSeq)
			if tt.wantFailed != "" {
				assert.Error(t, res.FirstError)
			}
			for k, v := range tt.want {
				assert.Equal(t, v, version(t, w, k), "key %s", k)
			}
			res.FailedSeq, res.FirstError, res.NewestCreated = "", nil, time.Time{}
			assert.Equal(t, tt.wantRes, res)
		})
	}
}

func TestReplicator_Apply_Chunks(t *testing.T) {
	tests := map[string]struct {
		keys      int
		imageSize int
		maxBytes  int
		wantCalls []int
	}{
		"25 writes a call":     {keys: 60, wantCalls: []int{25, 25, 10}},
		"exactly 25":           {keys: 25, wantCalls: []int{25}},
		"byte limit splits":    {keys: 10, imageSize: 1000, maxBytes: 3500, wantCalls: []int{3, 3, 3, 1}},
		"oversized item alone": {keys: 2, imageSize: 5000, maxBytes: 3500, wantCalls: []int{1, 1}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			changes := make([]replicate.Change, tt.keys)
			for i := range changes {
				changes[i] = change(fmt.Sprint(100+i), replicate.OpPut, fmt.Sprint("k", i), 1)
				if tt.imageSize > 0 {
					changes[i].NewImage = []byte(fmt.Sprintf(`{"pk":{"S":"k%d"},"v":{"N":"1"},"pad":{"S":%q}}`, i, strings.Repeat("x", tt.imageSize)))
				}
			}
			w := replicatetest.NewMemWriter()
			// Concurrency 1 keeps the call order deterministic.
			res := replicate.New(w, replicate.Options{Concurrency: 1, MaxBatchBytes: tt.maxBytes}).Apply(context.Background(), changes)
			require.Empty(t, res.FailedSeq, "%v", res.FirstError)
			assert.Equal(t, tt.wantCalls, w.Calls)
			assert.Len(t, w.Items(), tt.keys)
		})
	}
}

// blockingWriter never finishes a write before ctx ends.
type blockingWriter struct{}

func (blockingWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	<-ctx.Done()
	errs := make([]error, len(writes))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs, 0
}

func TestReplicator_Apply_Deadline(t *testing.T) {
	changes := make([]replicate.Change, 100)
	for i := range changes {
		changes[i] = change(fmt.Sprint(5000+i), replicate.OpPut, fmt.Sprint("k", i), 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := replicate.New(blockingWriter{}, replicate.Options{Concurrency: 2, DeadlineMargin: 100 * time.Millisecond}).Apply(ctx, changes)

	deadline, _ := ctx.Deadline()
	assert.True(t, time.Now().Before(deadline), "Apply must return before the invocation deadline (took %v)", time.Since(start))
	assert.Equal(t, "5000", res.FailedSeq)
	assert.Equal(t, 100, res.FailedRecords)
	assert.ErrorIs(t, res.FirstError, context.DeadlineExceeded)
}
