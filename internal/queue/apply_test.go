package queue_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// message returns the SQS message of r, as raw delivery brings it.
func message(tb testing.TB, r queue.Record) queue.Message {
	tb.Helper()
	body, err := r.Envelope.Encode()
	require.NoError(tb, err)
	return queue.Message{ID: "m" + r.Change.Seq, GroupID: queue.GroupID(r.Change.KeyID), Body: body}
}

func TestApplier_Apply(t *testing.T) {
	tests := map[string]struct {
		before     [][]queue.Record // batches applied first
		batch      []queue.Record
		failKeys   []string
		want       map[string]string // key -> n ("" = absent)
		wantFailed []string
	}{
		"in order": {
			batch: []queue.Record{record("a", 1, 1), record("b", 2, 2), record("a", 3, 3)},
			want:  map[string]string{"a": "3", "b": "2"},
		},
		"newer then older in one batch": {
			batch: []queue.Record{record("a", 3, 3), record("a", 1, 1)},
			want:  map[string]string{"a": "3"},
		},
		"older redelivered after newer": {
			before: [][]queue.Record{{record("a", 3, 3)}},
			batch:  []queue.Record{record("a", 1, 1)},
			want:   map[string]string{"a": "3"},
		},
		"duplicate": {
			before: [][]queue.Record{{record("a", 3, 3)}},
			batch:  []queue.Record{record("a", 3, 3)},
			want:   map[string]string{"a": "3"},
		},
		"delete is guarded": {
			before: [][]queue.Record{{record("a", 5, 5)}},
			batch:  []queue.Record{record("a", 4, -1)},
			want:   map[string]string{"a": "5"},
		},
		"newer delete": {
			before: [][]queue.Record{{record("a", 5, 5)}},
			batch:  []queue.Record{record("a", 6, -1)},
			want:   map[string]string{"a": ""},
		},
		"older put redelivered after a delete": {
			before: [][]queue.Record{{record("a", 5, 5)}, {record("a", 6, -1)}},
			batch:  []queue.Record{record("a", 5, 5)},
			want:   map[string]string{"a": ""},
		},
		"newer put after a delete": {
			before: [][]queue.Record{{record("a", 5, 5)}, {record("a", 6, -1)}},
			batch:  []queue.Record{record("a", 7, 7)},
			want:   map[string]string{"a": "7"},
		},
		"failed group reports every message of the group": {
			batch:      []queue.Record{record("a", 1, 1), record("b", 2, 2), record("a", 3, 3), record("c", 4, 4), record("a", 5, 5)},
			failKeys:   []string{"a"},
			want:       map[string]string{"a": "", "b": "2", "c": "4"},
			wantFailed: []string{"m" + recs1(1), "m" + recs1(3), "m" + recs1(5)},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := newMemGuard()
			a := queue.NewApplier(replicate.New(w, replicate.Options{}), nil, "")
			for _, batch := range tt.before {
				var msgs []queue.Message
				for _, r := range batch {
					msgs = append(msgs, message(t, r))
				}
				require.Empty(t, a.Apply(t.Context(), msgs).FailedIDs)
			}
			for _, key := range tt.failKeys {
				w.Reject[record(key, 1, 1).Change.KeyID] = true
			}
			var msgs []queue.Message
			for _, r := range tt.batch {
				msgs = append(msgs, message(t, r))
			}
			res := a.Apply(t.Context(), msgs)
			assert.Equal(t, tt.wantFailed, res.FailedIDs)
			for key, n := range tt.want {
				assert.Equal(t, n, value(w, key), "key %s", key)
			}
		})
	}
}

// TestApplier_Apply_BadMessages checks that an undecodable message fails
// alone and blocks the rest of its group, and that a keys-only message
// without a source to re-read fails.
func TestApplier_Apply_BadMessages(t *testing.T) {
	w := newMemGuard()
	a := queue.NewApplier(replicate.New(w, replicate.Options{}), nil, "")
	good := message(t, record("a", 2, 2))
	later := message(t, record("a", 3, 3))
	other := message(t, record("b", 4, 4))
	bad := queue.Message{ID: "bad", GroupID: good.GroupID, Body: []byte(`{"v":1`)}
	keysOnly := record("c", 5, 5)
	keysOnly.Envelope.NewImage, keysOnly.Envelope.KeysOnly = nil, true
	res := a.Apply(t.Context(), []queue.Message{good, bad, later, other, message(t, keysOnly)})
	assert.Equal(t, []string{"bad", later.ID, "m" + keysOnly.Change.Seq}, res.FailedIDs)
	assert.Equal(t, "4", value(w, "b"))
}
