package tablesync_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// TestBackfill_ThenVerify copies 20,000 items of every type and of sizes up
// to 100 KB, then verifies the copy.
func TestBackfill_ThenVerify(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	const count = 20000
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	items := make([]item, count)
	for i := range items {
		items[i] = genItem(i)
	}
	seeded := time.Now()
	seed(t, db, "source", items)
	t.Logf("seeded %d items in %s", count, time.Since(seeded))

	var progress bytes.Buffer
	res, err := tablesync.Backfill(t.Context(), db, "source", dynamo.NewTable(db, "target", dynamo.Options{}), "target",
		tablesync.BackfillOptions{
			Segments: tablesync.Segments{Total: 16, Concurrency: 16},
			Progress: tablesync.Progress{W: &progress, Interval: 100 * time.Millisecond},
		})
	require.NoError(t, err)
	t.Logf("backfill: %d items in %s (%.0f items/s)", res.Copied, res.Elapsed, float64(res.Copied)/res.Elapsed.Seconds())
	assert.EqualValues(t, count, res.Scanned)
	assert.EqualValues(t, count, res.Copied)
	assert.False(t, res.Source.StreamEnabled)
	assert.Contains(t, progress.String(), "backfill: 20,000")
	assert.Greater(t, res.WriteUnits, float64(count), "large items cost more than one unit")

	diffs, got := collect()
	vres, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{
		Segments:     tablesync.Segments{Total: 16, Concurrency: 16},
		OnDifference: diffs,
	})
	require.NoError(t, err)
	t.Logf("verify: %s in %s", vres, vres.Elapsed)
	assert.True(t, vres.Identical(), vres.String())
	assert.EqualValues(t, count, vres.SourceItems)
	assert.EqualValues(t, count, vres.TargetItems)
	assert.Empty(t, got())
}

// countingWriter counts the items written per key, and cancels the run
// after a number of calls.
type countingWriter struct {
	w           replicate.Writer
	mu          sync.Mutex
	writes      map[string]int
	calls       atomic.Int64
	cancelAfter int64
	cancel      context.CancelFunc
}

func (c *countingWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	errs, retries := c.w.WriteBatch(ctx, writes)
	c.mu.Lock()
	for i, w := range writes {
		if errs == nil || errs[i] == nil {
			c.writes[w.KeyID]++
		}
	}
	c.mu.Unlock()
	if n := c.calls.Add(1); c.cancel != nil && n == c.cancelAfter {
		c.cancel()
	}
	return errs, retries
}

// TestBackfill_Resume interrupts a backfill and resumes it from its
// checkpoint: every item is written exactly once in all.
func TestBackfill_Resume(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	const count = 3000
	db := localDB(t)
	createTables(t, db, types.StreamViewTypeNewAndOldImages, "source")
	createTables(t, db, "", "target")
	items := make([]item, count)
	for i := range items {
		items[i] = genItem(i + 1) // no 100 KB item: small pages below
	}
	seed(t, db, "source", items)
	ckpt := filepath.Join(t.TempDir(), "backfill.json")
	opts := tablesync.BackfillOptions{
		Segments:           tablesync.Segments{Total: 6, Concurrency: 3},
		PageSize:           60, // several pages per segment, each several batches
		Checkpoint:         ckpt,
		CheckpointInterval: 10 * time.Millisecond,
	}
	counter := &countingWriter{w: dynamo.NewTable(db, "target", dynamo.Options{}), writes: map[string]int{}}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	counter.cancel, counter.cancelAfter = cancel, 40
	first, err := tablesync.Backfill(ctx, db, "source", counter, "target", opts)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, first.Source.StreamReady())
	assert.Less(t, first.Copied, int64(count), "interrupted before the end")
	saved, err := tablesync.LoadCheckpoint(ckpt)
	require.NoError(t, err)
	require.NotNil(t, saved)
	var inCkpt int64
	for _, st := range saved.Segments {
		inCkpt += st.Items
	}
	assert.Equal(t, first.Copied, inCkpt, "every item written is in the checkpoint")

	counter.cancel = nil
	second, err := tablesync.Backfill(t.Context(), db, "source", counter, "target", opts)
	require.NoError(t, err)
	assert.Equal(t, first.Copied, second.Resumed)
	assert.EqualValues(t, count, first.Copied+second.Copied)
	assert.Len(t, counter.writes, count)
	for id, n := range counter.writes {
		if n != 1 {
			t.Errorf("item %q written %d times", id, n)
		}
	}

	// A third run finds every segment done.
	third, err := tablesync.Backfill(t.Context(), db, "source", counter, "target", opts)
	require.NoError(t, err)
	assert.Equal(t, 6, third.Skipped)
	assert.Zero(t, third.Copied)

	_, err = tablesync.Backfill(t.Context(), db, "source", counter, "target",
		tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 5}, Checkpoint: ckpt})
	assert.ErrorIs(t, err, tablesync.ErrCheckpointMismatch)

	res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{})
	require.NoError(t, err)
	assert.True(t, res.Identical(), res.String())
}

// TestBackfill_SegmentRange splits one backfill between two runs, as two
// machines would.
func TestBackfill_SegmentRange(t *testing.T) {
	const count = 500
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	items := make([]item, count)
	for i := range items {
		items[i] = genItem(i + 1)
	}
	seed(t, db, "source", items)
	target := dynamo.NewTable(db, "target", dynamo.Options{})
	a, err := tablesync.Backfill(t.Context(), db, "source", target, "target",
		tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 4, Only: []int{0, 1}}})
	require.NoError(t, err)
	b, err := tablesync.Backfill(t.Context(), db, "source", target, "target",
		tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 4, Only: []int{2, 3}}})
	require.NoError(t, err)
	assert.Positive(t, a.Copied)
	assert.Positive(t, b.Copied)
	assert.EqualValues(t, count, a.Copied+b.Copied)
	cmp, err := tablesync.Compare(t.Context(), db, "source", db, "target", tablesync.CompareOptions{})
	require.NoError(t, err)
	assert.True(t, cmp.Identical(), "tablecmp agrees: %s", cmp)
}

// TestBackfill_WriteFailure stops at a write that fails for good, keeps the
// checkpoint at the last write with every earlier one done, and completes
// on the next run.
func TestBackfill_WriteFailure(t *testing.T) {
	stub := newReadStub(t, 0)
	items := benchItems(1000)
	stub.load(t, "source", items)
	ckpt := filepath.Join(t.TempDir(), "ckpt.json")
	opts := tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 4}, PageSize: 50, Checkpoint: ckpt}
	target := replicatetest.NewMemWriter()
	bad, _ := replicate.KeyID(item{"pk": items[500]["pk"], "sk": items[500]["sk"]})
	target.Reject[bad] = true

	first, err := tablesync.Backfill(t.Context(), stub.client(t), "source", target, "target", opts)
	require.ErrorIs(t, err, replicatetest.ErrRejected)
	assert.Less(t, first.Copied, int64(1000))
	saved, err := tablesync.LoadCheckpoint(ckpt)
	require.NoError(t, err)
	notDone := 0
	for _, st := range saved.Segments {
		if !st.Done {
			notDone++
		}
	}
	assert.Positive(t, notDone, "the failed segment is not done")

	delete(target.Reject, bad)
	second, err := tablesync.Backfill(t.Context(), stub.client(t), "source", target, "target", opts)
	require.NoError(t, err)
	assert.LessOrEqual(t, second.Resumed, first.Copied, "only writes with every earlier one done are checkpointed")
	assert.Len(t, target.Items(), 1000)
}

// TestBackfill_MaxWCU holds the write rate: 600 one-unit items at 400
// units a second take at least half a second after the first second's
// burst.
func TestBackfill_MaxWCU(t *testing.T) {
	stub := newReadStub(t, 0)
	stub.load(t, "source", benchItems(600))
	target := replicatetest.NewMemWriter()
	res, err := tablesync.Backfill(t.Context(), stub.client(t), "source", target, "target",
		tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 4}, MaxWCU: 400})
	require.NoError(t, err)
	assert.EqualValues(t, 600, res.WriteUnits)
	assert.GreaterOrEqual(t, res.Elapsed, 450*time.Millisecond)
	assert.Len(t, target.Items(), 600)
}
