package tablesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Backfill limits and defaults.
const (
	// maxWritesPerSegment bounds the BatchWriteItem calls in flight for one
	// segment; the total is this times Segments.Concurrency.
	maxWritesPerSegment = 4
	// DefaultCheckpointInterval is how often the checkpoint file is saved.
	DefaultCheckpointInterval = time.Second
)

// Log keys.
const (
	keySource   = "source"
	keyTarget   = "target"
	keySegments = "segments"
	keyItems    = "items"
	keyError    = "error"
	keyClass    = "errorClass"
	keyElapsed  = "elapsedMs"
	keySrcItems = "sourceItems"
	keyDstItems = "targetItems"
	keyMissing  = "missing"
	keyExtra    = "extra"
	keyDiffer   = "different"
)

// BackfillOptions configures [Backfill]; zero fields take the defaults.
type BackfillOptions struct {
	// Segments says which Scan segments to copy and how many at once.
	Segments Segments
	// PageSize is the Scan Limit (default 0: DynamoDB's 1 MB pages).
	PageSize int32
	// MaxWCU limits the write capacity units consumed per second (an item
	// costs one unit per started KB); 0 means no limit.
	MaxWCU float64
	// Checkpoint is the checkpoint file; empty means none. If it exists the
	// backfill resumes from it: finished segments are skipped and the others
	// continue after their last written item.
	Checkpoint string
	// CheckpointInterval is how often the checkpoint is saved while running
	// (default DefaultCheckpointInterval); it is always saved at the end.
	CheckpointInterval time.Duration
	// Progress shows a progress line.
	Progress Progress
	// Retry shapes the retries of Scan calls. Writes retry as the
	// replicator's do (the Writer's rules).
	Retry RetryOptions
	// Logger receives start, warning and end lines (default: discard).
	Logger *slog.Logger
	// Rules is the rule set the copy is made with: each source item goes
	// through [rules.RuleSet.Target]. nil (or the identity rule set)
	// copies items as they are.
	Rules *rules.RuleSet
}

// BackfillResult says what [Backfill] did.
type BackfillResult struct {
	// Scanned counts the items read from the source in this run.
	Scanned int64
	// Copied counts the items written to the target in this run.
	Copied int64
	// Resumed counts the items written by earlier runs (from the checkpoint).
	Resumed int64
	// Segments counts the segments of this run; Skipped those already
	// finished according to the checkpoint.
	Segments, Skipped int
	// WriteUnits is the estimated write capacity consumed.
	WriteUnits float64
	// Retries counts retried write calls and items.
	Retries int
	// Elapsed is the run's duration.
	Elapsed time.Duration
	// Source describes the source table, stream settings included.
	Source TableInfo
	// Filtered counts the items the rules' filters left out (not written).
	Filtered int64
	// Failed counts the source items not written because the rules failed
	// on them, or because they collided (Collisions) with another item of
	// the same BatchWriteItem call; the backfill goes on and then returns
	// an error wrapping [ErrItemsFailed].
	Failed int64
	// Collisions counts the source items mapped to a target key that
	// another source item of the same batch took (the first one is
	// written); they are counted in Failed too.
	Collisions int64
	// FailedItems are the first [MaxFailedItems] failed items.
	FailedItems []ItemFailure
}

// Backfill copies every item of the source table (in the chosen Scan
// segments) to the target through dst, which is the replicator's own
// writer (BatchWriteItem with its retries). Items are written as scanned:
// see the package documentation for the safe order of operations when
// replication is live. Backfill does not refuse a source without a stream;
// BackfillResult.Source (or [Describe] beforehand) tells the caller. On error or cancellation it stops starting writes,
// waits for those in flight, saves the checkpoint and returns the error
// with the result so far.
func Backfill(ctx context.Context, src Scanner, srcTable string, dst replicate.Writer, dstTable string, opts BackfillOptions) (BackfillResult, error) {
	start := time.Now()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	segs, concurrency, err := opts.Segments.list()
	if err != nil {
		return BackfillResult{}, fmt.Errorf("backfill: %w", err)
	}
	info, err := describe(ctx, src, srcTable)
	if err != nil {
		return BackfillResult{}, err
	}
	b := &backfill{
		opts: opts,
		keys: info.keys,
		dst:  dst,
		scan: &scanner{api: src, table: srcTable, total: opts.Segments.total(), pageSize: opts.PageSize, retry: opts.Retry.Or(dynamo.DefaultRetry)},
		wcu:  newRateLimiter(opts.MaxWCU),
		ckpt: &Checkpoint{Version: checkpointVersion, SourceTable: srcTable, TargetTable: dstTable,
			TotalSegments: opts.Segments.total(), Segments: map[int]*SegmentState{}, Rules: opts.Rules.Fingerprint()},
		state: map[int]*segState{},
	}
	res := BackfillResult{Source: info.export(), Segments: len(segs)}
	if err := b.load(); err != nil {
		return res, err
	}
	var todo []int
	for _, seg := range segs {
		st := b.state[seg]
		if st == nil {
			st = &segState{}
			b.state[seg] = st
		}
		res.Resumed += st.items
		if st.done {
			res.Skipped++
			continue
		}
		todo = append(todo, seg)
	}

	log := opts.Logger.With(slog.String(keySource, srcTable), slog.String(keyTarget, dstTable))
	log.Info("backfill started", slog.Int(keySegments, len(todo)), slog.Int64(keyItems, res.Resumed))

	estimate := info.itemCount * int64(len(segs)) / int64(b.scan.total)
	m := startMeter(opts.Progress, "backfill", estimate, res.Resumed)
	if !opts.Rules.IsIdentity() {
		m.filtered.Store(&b.filtered)
	}
	b.meter = m
	saved := b.saveEvery(opts.CheckpointInterval)
	err = runSegments(ctx, todo, concurrency, b.segment)
	saved()
	m.finish()
	if serr := b.save(); serr != nil {
		err = errors.Join(err, serr)
	}

	res.Scanned, res.Copied = b.scanned.Load(), b.copied.Load()
	res.Filtered, res.Failed, res.Collisions = b.filtered.Load(), b.failed.Load(), b.collisions.Load()
	res.FailedItems = b.failures.list()
	if res.Failed > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %d items (%d collisions), the first: %s", ErrItemsFailed, res.Failed, res.Collisions, res.FailedItems[0]))
	}
	res.Retries = int(b.retries.Load())
	res.WriteUnits = float64(b.units.Load())
	res.Elapsed = time.Since(start)
	attrs := []slog.Attr{slog.Int64(keyItems, res.Copied), slog.Int64(keyElapsed, res.Elapsed.Milliseconds())}
	if err != nil {
		// Returned, so logged at Info only: the caller reports it.
		attrs = append(attrs, slog.String(keyError, dynamo.ErrorClass(err)))
		err = fmt.Errorf("backfill %s: %w", srcTable, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "backfill finished", attrs...)
	return res, err
}

// backfill is the state of one Backfill run.
type backfill struct {
	opts  BackfillOptions
	keys  keySchema
	dst   replicate.Writer
	scan  *scanner
	wcu   *rateLimiter
	meter *meter

	mu    sync.Mutex // guards ckpt and state
	ckpt  *Checkpoint
	state map[int]*segState
	dirty bool

	scanned, copied, retries, units atomic.Int64
	filtered, failed, collisions    atomic.Int64
	failures                        failureList
}

// segState is the in-memory state of one segment, guarded by backfill.mu.
type segState struct {
	done    bool
	items   int64
	lastKey Item
	// marks are the writes started and page ends seen, in scan order, not
	// yet folded into the state: the state moves past a mark only when it
	// and every mark before it are done.
	marks []*mark
}

// mark is a point in a segment's scan order.
type mark struct {
	key   Item // the key to resume after once this mark is done
	items int  // items written by this mark
	final bool // the segment's last page ends here
	done  bool
}

// advance folds the segment's leading done marks into its state.
func (b *backfill) advance(st *segState) {
	n := 0
	for ; n < len(st.marks) && st.marks[n].done; n++ {
		m := st.marks[n]
		st.items += int64(m.items)
		if m.key != nil {
			st.lastKey = m.key
		}
		if m.final {
			st.done = true
		}
	}
	if n > 0 {
		st.marks = append(st.marks[:0], st.marks[n:]...)
		b.dirty = true
	}
}

// segment copies one segment, from its checkpointed position.
func (b *backfill) segment(ctx context.Context, seg int) error {
	b.mu.Lock()
	st := b.state[seg]
	startKey := st.lastKey
	b.mu.Unlock()

	scanCtx, stopScan := context.WithCancel(ctx)
	defer stopScan()
	pages, scanDone := b.scan.prefetch(scanCtx, seg, startKey)

	slots := make(chan struct{}, maxWritesPerSegment)
	var wg sync.WaitGroup
	var werrMu sync.Mutex
	var werr error
	fail := func(err error) {
		werrMu.Lock()
		defer werrMu.Unlock()
		if werr == nil {
			werr = err
			stopScan()
		}
	}
	put := func(m *mark) {
		b.mu.Lock()
		st.marks = append(st.marks, m)
		b.advance(st)
		b.mu.Unlock()
	}

pages:
	for pg := range pages {
		b.scanned.Add(int64(len(pg.items)))
		for lo := 0; lo < len(pg.items); lo += replicate.MaxBatchWrites {
			chunk := pg.items[lo:min(lo+replicate.MaxBatchWrites, len(pg.items))]
			writes, units, err := b.writes(chunk)
			if err != nil {
				fail(fmt.Errorf("segment %d: %w", seg, err))
				break pages
			}
			if len(writes) == 0 {
				// All filtered out or failed: the position moves past them.
				put(&mark{key: b.keys.key(chunk[len(chunk)-1]), done: true})
				b.meter.add(len(chunk))
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-scanCtx.Done():
				break pages
			}
			if err := b.wcu.wait(scanCtx, units); err != nil || scanCtx.Err() != nil {
				<-slots
				break pages
			}
			// The position is the source key of the chunk's last item (the
			// writes' keys are target keys under rules).
			m := &mark{key: b.keys.key(chunk[len(chunk)-1]), items: len(writes)}
			skipped := len(chunk) - len(writes)
			put(m)
			wg.Go(func() {
				defer func() { <-slots }()
				// Writes in flight finish even when ctx is cancelled, so
				// that the checkpoint can move past them: the Writer bounds
				// them with its own attempts.
				errs, retries := b.dst.WriteBatch(context.WithoutCancel(ctx), writes)
				b.retries.Add(int64(retries))
				for _, err := range errs {
					if err != nil {
						fail(fmt.Errorf("segment %d: write batch: %w", seg, err))
						return
					}
				}
				b.units.Add(int64(units))
				b.copied.Add(int64(len(writes)))
				b.meter.add(len(writes) + skipped)
				b.mu.Lock()
				m.done = true
				b.advance(st)
				b.mu.Unlock()
			})
		}
		put(&mark{key: pg.next, final: len(pg.next) == 0, done: true})
	}
	wg.Wait()
	stopScan()
	serr := scanDone()
	if werr != nil {
		return werr
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return serr
}

// writes turns scanned items into put requests and sums their write units.
// With rules, each item goes through them: filtered-out items are counted
// and not written, failed ones are counted and listed, and of two items
// mapped to one target key only the first is written (BatchWriteItem
// refuses a call with a key twice).
func (b *backfill) writes(items []Item) ([]replicate.Write, float64, error) {
	if !b.opts.Rules.IsIdentity() {
		return b.ruleWrites(items)
	}
	writes := make([]replicate.Write, len(items))
	units := 0.0
	for i, item := range items {
		id, err := b.keys.id(item)
		if err != nil {
			return nil, 0, err
		}
		writes[i] = replicate.Write{Op: replicate.OpPut, Key: b.keys.key(item), KeyID: id, Item: item}
		units += writeUnits(item)
	}
	return writes, units, nil
}
