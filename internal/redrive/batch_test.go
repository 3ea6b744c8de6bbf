package redrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/redrive"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

func TestBatch(t *testing.T) {
	tests := map[string]struct {
		// setup writes the source (whose stream records 0..last form the
		// batch) and the target.
		setup  func(t *testing.T, put func(table string, it item), del func(table, id string))
		last   int
		reject []string // keys the target rejects
		dryRun bool

		wantErr    error
		wantAction map[string]tablesync.Action
		wantFailed []string
		// wantTarget is each key's target value after the redrive; nil
		// means none, and a key left out must equal the source's.
		wantTarget map[string]item
	}{
		"keys changed since: the target keeps their current value": {
			setup: func(_ *testing.T, put func(string, item), _ func(string, string)) {
				put("source", version("A", 1))
				put("source", version("B", 1))
				put("source", version("A", 2))
				put("source", version("B", 2))
				put("target", version("A", 2))
				put("target", version("B", 2))
			},
			last:       1,
			wantAction: map[string]tablesync.Action{"A": tablesync.ActionNone, "B": tablesync.ActionNone},
		},
		"a key that fails does not stop the others": {
			setup: func(_ *testing.T, put func(string, item), _ func(string, string)) {
				put("target", version("A", 0))
				put("source", version("A", 1))
				put("source", version("B", 1))
				put("source", version("B", 2))
			},
			last:       1,
			reject:     []string{"A"},
			wantErr:    redrive.ErrKeysFailed,
			wantAction: map[string]tablesync.Action{"A": tablesync.ActionNone, "B": tablesync.ActionPut},
			wantFailed: []string{"A"},
			wantTarget: map[string]item{"A": version("A", 0)},
		},
		"deleted in the source": {
			setup: func(_ *testing.T, put func(string, item), del func(string, string)) {
				put("source", version("A", 1))
				del("source", "A")
				put("target", version("A", 1))
			},
			last:       1,
			wantAction: map[string]tablesync.Action{"A": tablesync.ActionDelete},
		},
		"dry run writes nothing": {
			setup: func(_ *testing.T, put func(string, item), del func(string, string)) {
				put("source", version("A", 1))
				put("source", version("B", 1))
				del("source", "B")
				put("target", version("B", 1))
			},
			last:       2,
			dryRun:     true,
			wantAction: map[string]tablesync.Action{"A": tablesync.ActionPut, "B": tablesync.ActionDelete},
			wantTarget: map[string]item{"A": nil, "B": version("B", 1)},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db, streams, arn := tables(t)
			tt.setup(t, func(table string, it item) { put(t, db, table, it) }, func(table, id string) { del(t, db, table, id) })
			batch := batchOf(t, streams, arn, 0, tt.last)
			rep := tablesync.NewRepairer(db, "source", rejecting(db, tt.reject...), "target", tablesync.RepairOptions{DryRun: tt.dryRun})

			res, err := redrive.Batch(t.Context(), streams, rep, batch, redrive.Options{})

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.last+1, res.Records)
			assert.False(t, res.Expired)
			var failed []string
			for _, k := range res.Failed() {
				assert.ErrorIs(t, k.Err, errRejected)
				failed = append(failed, tablesync.KeyJSON(k.Key))
			}
			wantFailed := []string(nil)
			for _, id := range tt.wantFailed {
				wantFailed = append(wantFailed, `{"id":{"S":"`+id+`"}}`)
			}
			assert.Equal(t, wantFailed, failed)
			assert.Len(t, res.Keys, len(tt.wantAction))
			for _, k := range res.Keys {
				id := tablesync.KeyJSON(k.Key)
				id = strings.TrimSuffix(strings.TrimPrefix(id, `{"id":{"S":"`), `"}}`)
				assert.Equal(t, tt.wantAction[id], k.Action, "key %s", id)
				want, listed := tt.wantTarget[id]
				if !listed {
					want = get(t, db, "source", id)
				}
				assert.Equal(t, want, get(t, db, "target", id), "target %s", id)
			}
		})
	}
}

func TestBatch_BadRecords(t *testing.T) {
	db, streams, arn := tables(t)
	put(t, db, "source", version("A", 1))
	good := batchOf(t, streams, arn, 0, 0)
	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
	tests := map[string]struct {
		batch   func(streampoll.BatchInfo) streampoll.BatchInfo
		wantErr error
	}{
		"start after end": {func(b streampoll.BatchInfo) streampoll.BatchInfo {
			b.StartSequenceNumber = b.EndSequenceNumber + "0"
			return b
		}, redrive.ErrBadFailureRecord},
		"no shard": {func(b streampoll.BatchInfo) streampoll.BatchInfo { b.ShardID = ""; return b }, redrive.ErrBadFailureRecord},
		"shard gone": {func(b streampoll.BatchInfo) streampoll.BatchInfo {
			b.ShardID = "shardId-00000000000000000000-gone0000"
			return b
		}, redrive.ErrExpired},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := redrive.Batch(t.Context(), streams, rep, tt.batch(good), redrive.Options{})
			require.ErrorIs(t, err, tt.wantErr)
			assert.Empty(t, res.Keys, "no key touched")
		})
	}
	assert.Nil(t, get(t, db, "target", "A"))
}

// poisonWriter rejects every write of one key while broken, as a target
// that cannot take that item would, and passes the other writes on.
type poisonWriter struct {
	w      replicate.Writer
	poison string // KeyID
	broken atomic.Bool
}

func (p *poisonWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	if !p.broken.Load() {
		return p.w.WriteBatch(ctx, writes)
	}
	var others []replicate.Write
	var at []int
	errs := make([]error, len(writes))
	for i, w := range writes {
		if w.KeyID == p.poison {
			errs[i] = errRejected
			continue
		}
		others = append(others, w)
		at = append(at, i)
	}
	if len(others) == 0 {
		return errs, 0
	}
	oerrs, retries := p.w.WriteBatch(ctx, others)
	for j, err := range oerrs {
		errs[at[j]] = err
	}
	return errs, retries
}

// TestBatch_PoisonBatchFromPoller replicates through the real handler with
// a local poller until a poison key exhausts the retries, then redrives
// the failure record: the poison key is named while the target still
// rejects it, and every key equals the source once it is fixed.
func TestBatch_PoisonBatchFromPoller(t *testing.T) {
	db, streams, arn := tables(t)
	poisonID, _ := replicate.KeyID(keyOf("P"))
	writer := &poisonWriter{w: dynamo.NewTable(db, "target", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2}}), poison: poisonID}
	writer.broken.Store(true)
	handler := lambdahandler.New(replicate.New(writer, replicate.Options{}), lambdahandler.Options{TargetTable: "target"})

	var failures bytes.Buffer
	p := streampoll.New(streams, handler, streampoll.Options{
		StreamARN: arn, BatchSize: 100, BatchWindow: 200 * time.Millisecond, MaxRetries: 1,
		RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 10 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Failures: &failures,
	})
	ctx, stop := context.WithTimeout(t.Context(), 60*time.Second)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for _, id := range []string{"A", "B", "P", "C"} {
		put(t, db, "source", version(id, 1))
	}
	require.NoError(t, p.WaitIdle(ctx, 500*time.Millisecond))
	put(t, db, "source", version("B", 2)) // a later change of a key of the failed batch
	require.Eventually(t, func() bool { return p.Stats().Records == 5 }, 20*time.Second, 10*time.Millisecond)
	stop()
	require.NoError(t, <-done)

	lines := strings.Split(strings.TrimSpace(failures.String()), "\n")
	require.Len(t, lines, 1, "one batch given up: %s", failures.String())
	var rec streampoll.FailureRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Nil(t, get(t, db, "target", "P"))
	require.Equal(t, version("B", 2), get(t, db, "target", "B"))

	t.Run("still poison", func(t *testing.T) {
		rep := tablesync.NewRepairer(db, "source", rejecting(db, "P"), "target", tablesync.RepairOptions{})
		res, err := redrive.Batch(t.Context(), streams, rep, rec.DDBStreamBatchInfo, redrive.Options{})
		require.ErrorIs(t, err, redrive.ErrKeysFailed)
		require.Len(t, res.Failed(), 1)
		assert.Equal(t, `{"id":{"S":"P"}}`, tablesync.KeyJSON(res.Failed()[0].Key))
		assert.Equal(t, version("B", 2), get(t, db, "target", "B"), "B is not moved back to the batch's image")
		assert.Nil(t, get(t, db, "target", "P"))
	})

	t.Run("after the fix", func(t *testing.T) {
		rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
		res, err := redrive.Batch(t.Context(), streams, rep, rec.DDBStreamBatchInfo, redrive.Options{})
		require.NoError(t, err)
		assert.Equal(t, rec.DDBStreamBatchInfo.BatchSize, res.Records)
		vres, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{RecheckDelay: -1})
		require.NoError(t, err)
		assert.True(t, vres.Identical(), vres.String())
	})
}

// TestBatch_QueueTargetKeepsBatchSeq: on a queue-path target, the write a
// redrive makes for a key carries the sequence number of the key's newest
// record in the batch (when the target's own is older), so a redelivered
// message older than the batch cannot undo the redrive: here a delete.
func TestBatch_QueueTargetKeepsBatchSeq(t *testing.T) {
	db, streams, arn := tables(t)
	names := replattr.Names{}.WithDefaults()
	put(t, db, "source", version("A", 1))
	del(t, db, "source", "A")
	low, err := dynamo.PadSeq("1")
	require.NoError(t, err)
	put(t, db, "target", with(version("A", 1), names.Seq, &types.AttributeValueMemberS{Value: low}))
	batch := batchOf(t, streams, arn, 0, 1)

	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{Attrs: names})
	_, err = redrive.Batch(t.Context(), streams, rep, batch, redrive.Options{})
	require.NoError(t, err)

	tomb := get(t, db, "target", "A")
	require.True(t, names.IsTombstone(tomb), "the delete leaves a tombstone: %v", tomb)
	want, err := dynamo.PadSeq(batch.EndSequenceNumber)
	require.NoError(t, err)
	assert.Equal(t, want, names.SeqOf(tomb), "the tombstone carries the batch's newest record of the key")

	// A redelivered message older than the batch's delete changes nothing.
	g := dynamo.NewSeqGuard(dynamo.NewTable(db, "target", dynamo.Options{}), names, dynamo.GuardOptions{})
	id, _ := replicate.KeyID(keyOf("A"))
	errs, _ := g.WriteBatch(t.Context(), []replicate.Write{{Op: replicate.OpPut, Key: keyOf("A"), KeyID: id, Item: version("A", 1), Seq: batch.StartSequenceNumber}})
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Nil(t, names.Visible(get(t, db, "target", "A")), "no resurrection")
}

func with(it item, name string, v types.AttributeValue) item {
	out := item{name: v}
	for k, val := range it {
		out[k] = val
	}
	return out
}
