package tablesync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Verify defaults.
const (
	// DefaultRechecks is how many strongly consistent re-reads of both
	// tables an item must fail before it is reported as a difference.
	DefaultRechecks = 2
	// DefaultRecheckDelay is the wait before each re-read after the first,
	// long enough for a live replicator (which polls each shard about four
	// times a second) to apply a change in flight.
	DefaultRecheckDelay = time.Second
	// maxGetsPerSegment bounds the BatchGetItem calls in flight for one
	// segment.
	maxGetsPerSegment = 4
)

// Kind says how an item differs.
type Kind string

// Kinds of [Difference].
const (
	// Missing is an item of the source that the target lacks.
	Missing Kind = "missing"
	// Extra is an item of the target that the source lacks.
	Extra Kind = "extra"
	// Different is an item in both tables whose attributes differ.
	Different Kind = "different"
	// Collision is two source items that the rules map to one target key
	// (with rules only); repair cannot fix it, the rule set must change.
	Collision Kind = "collision"
	// RuleFailed is a source item the rules fail on (with rules only): its
	// copy cannot be known; the error says why.
	RuleFailed Kind = "rule-error"
)

// Difference is one item that is not the same in both tables, as
// confirmed by strongly consistent reads.
type Difference struct {
	// Kind is Missing (in the source only), Extra (in the target only) or
	// Different.
	Kind Kind
	// Key is the item's primary key.
	Key Item
	// Attributes names the differing attributes (Different only), sorted.
	Attributes []string
	// Source and Target are the item as last read from each table; nil
	// where it is absent. Target is as a reader sees it: without the
	// sequence attribute, nil for a tombstone. With rules, Source is the
	// source item through the rules: the target item it should be.
	Source, Target Item
	// With rules only (nil without, where Key is both): Key is the target
	// key (for RuleFailed, the source key), SourceKey the source item's
	// key (nil for an Extra item whose source key the rules do not carry)
	// and TargetKey the target key (nil for RuleFailed).
	SourceKey, TargetKey Item
	// OtherSourceKey is, for a Collision, the source key of the other
	// source item mapped to TargetKey.
	OtherSourceKey Item
	// Error is what a RuleFailed item's rules said, or a Collision's
	// description.
	Error string
}

// VerifyOptions configures [Verify]; zero fields take the defaults.
type VerifyOptions struct {
	// Segments says which Scan segments to compare and how many at once.
	// The same segments are scanned in both tables.
	Segments Segments
	// PageSize is the Scan Limit (default 0: DynamoDB's 1 MB pages).
	PageSize int32
	// MaxRCU limits the read capacity units consumed per second on each
	// table; 0 means no limit.
	MaxRCU float64
	// Rechecks is how many consistent re-reads must confirm a difference
	// (default DefaultRechecks).
	Rechecks int
	// RecheckDelay is the wait before each re-read after the first
	// (default DefaultRecheckDelay; negative means none).
	RecheckDelay time.Duration
	// OnDifference is called for each confirmed difference, possibly from
	// several goroutines at once. An error stops Verify.
	OnDifference func(ctx context.Context, d Difference) error
	// Progress shows a progress line.
	Progress Progress
	// Retry shapes the retries of reads.
	Retry RetryOptions
	// Logger receives start and end lines (default: discard).
	Logger *slog.Logger
	// Attrs names the queue path's attributes in target items (defaults:
	// package replattr's).
	Attrs replattr.Names
	// Rules is the rule set the copy is made with: the source is compared
	// through it (see the package documentation, "Verify with rules").
	// nil, or the identity rule set, compares items as they are.
	Rules *rules.RuleSet
	// TTLAttribute is the source table's TTL attribute (DescribeTimeToLive;
	// "": none). With rules that skip TTL deletes (ttl_deletes: skip) a
	// target item whose source item is gone and whose TTL, where the rules
	// carry the attribute, is at or before now is a copy the replicator
	// keeps: it is counted in ExpiredKept, not reported extra (see the
	// package documentation, "Verify with rules").
	TTLAttribute string
}

// VerifyResult counts what [Verify] found.
type VerifyResult struct {
	// SourceItems and TargetItems count the items scanned in each table.
	SourceItems, TargetItems int64
	// Missing, Extra and Different count the confirmed differences.
	Missing, Extra, Different int64
	// Settled counts apparent differences that consistent re-reads showed
	// to be replication in flight.
	Settled int64
	// With rules: Filtered counts the source items the filters leave out,
	// Collisions and RuleErrors the confirmed differences of those kinds.
	Filtered, Collisions, RuleErrors int64
	// ExpectedKeys counts the target keys held in memory when the rules do
	// not carry the source key into the target (the fallback of the target
	// pass; see the package documentation); 0 otherwise.
	ExpectedKeys int64
	// ExpiredKept counts the target items kept after the source's TTL
	// expired their source items (see [VerifyOptions.TTLAttribute]); they
	// are no differences.
	ExpiredKept int64
	// Elapsed is the run's duration.
	Elapsed time.Duration
}

// Identical reports whether no difference was found.
func (r VerifyResult) Identical() bool {
	return r.Missing == 0 && r.Extra == 0 && r.Different == 0 && r.Collisions == 0 && r.RuleErrors == 0
}

// String summarises the result in one line.
func (r VerifyResult) String() string {
	s := fmt.Sprintf("source %d items, target %d items: %d missing, %d extra, %d different",
		r.SourceItems, r.TargetItems, r.Missing, r.Extra, r.Different)
	if r.Collisions > 0 || r.RuleErrors > 0 {
		s += fmt.Sprintf(", %d collisions, %d rule errors", r.Collisions, r.RuleErrors)
	}
	if r.Filtered > 0 {
		s += fmt.Sprintf(" (%d source items filtered out)", r.Filtered)
	}
	if r.ExpiredKept > 0 {
		s += fmt.Sprintf(" (%d expired copies kept)", r.ExpiredKept)
	}
	return s
}

// Verify compares the tables without changing them. It scans the source
// and looks each item up in the target (BatchGetItem, 100 keys a call),
// then scans the target and looks each item up in the source, to find the
// items the source lacks. Target items are seen as a reader of the copy
// sees them ([replattr.Names.Visible]): the queue path's sequence
// attribute is not compared and its tombstones are no items. Values
// compare as [tablecmp.EqualItems] does (numbers as decimals, sets as
// sets). An apparent difference is re-read
// from both tables with strongly consistent reads, Rechecks times with
// RecheckDelay between them, and reported only if it persists, so that
// changes still in flight through the replicator are not reported as drift.
func Verify(ctx context.Context, src TableReader, srcTable string, dst TableReader, dstTable string, opts VerifyOptions) (VerifyResult, error) {
	start := time.Now()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rechecks <= 0 {
		opts.Rechecks = DefaultRechecks
	}
	if opts.RecheckDelay == 0 {
		opts.RecheckDelay = DefaultRecheckDelay
	}
	segs, concurrency, err := opts.Segments.list()
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify: %w", err)
	}
	if !opts.Rules.IsIdentity() {
		return verifyRules(ctx, start, src, srcTable, dst, dstTable, opts, segs, concurrency)
	}
	sInfo, dInfo, err := describePair(ctx, src, srcTable, dst, dstTable)
	if err != nil {
		return VerifyResult{}, err
	}
	retry := opts.Retry.Or(dynamo.DefaultRetry)
	total := opts.Segments.total()
	opts.Attrs = opts.Attrs.WithDefaults()
	v := &verifier{opts: opts, keys: sInfo.keys}
	srcRCU, dstRCU := newRateLimiter(opts.MaxRCU), newRateLimiter(opts.MaxRCU)
	v.side[sourceSide] = side{
		scan: &scanner{api: src, table: srcTable, total: total, pageSize: opts.PageSize, limiter: srcRCU, retry: retry},
		get:  &getter{api: src, table: srcTable, keys: sInfo.keys, limiter: srcRCU, retry: retry},
	}
	v.side[targetSide] = side{
		// The target pass only looks for keys the source lacks.
		scan: &scanner{api: dst, table: dstTable, total: total, pageSize: opts.PageSize, keysOnly: sInfo.keys,
			alsoRead: []string{opts.Attrs.Deleted}, limiter: dstRCU, retry: retry},
		get: &getter{api: dst, table: dstTable, keys: sInfo.keys, limiter: dstRCU, retry: retry},
	}
	log := opts.Logger.With(slog.String(keySource, srcTable), slog.String(keyTarget, dstTable))
	log.Info("verify started", slog.Int(keySegments, len(segs)))

	share := func(n int64) int64 { return n * int64(len(segs)) / int64(total) }
	v.meter = startMeter(opts.Progress, "verify source", share(sInfo.itemCount), 0)
	err = runSegments(ctx, segs, concurrency, func(ctx context.Context, seg int) error {
		return v.segment(ctx, sourceSide, seg)
	})
	if err == nil {
		v.meter.setPhase("verify target", share(dInfo.itemCount))
		err = runSegments(ctx, segs, concurrency, func(ctx context.Context, seg int) error {
			return v.segment(ctx, targetSide, seg)
		})
	}
	v.meter.finish()

	res := VerifyResult{
		SourceItems: v.scanned[sourceSide].Load(), TargetItems: v.scanned[targetSide].Load(),
		Missing: v.missing.Load(), Extra: v.extra.Load(), Different: v.different.Load(),
		Settled: v.settled.Load(), Elapsed: time.Since(start),
	}
	attrs := []slog.Attr{
		slog.Int64(keySrcItems, res.SourceItems), slog.Int64(keyDstItems, res.TargetItems),
		slog.Int64(keyMissing, res.Missing), slog.Int64(keyExtra, res.Extra), slog.Int64(keyDiffer, res.Different),
		slog.Int64(keyElapsed, res.Elapsed.Milliseconds()),
	}
	if err != nil {
		// Returned, so logged at Info only: the caller reports it.
		log.LogAttrs(ctx, slog.LevelInfo, "verify failed", append(attrs, slog.String(keyError, dynamo.ErrorClass(err)))...)
		return res, fmt.Errorf("verify %s against %s: %w", srcTable, dstTable, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "verify finished", attrs...)
	return res, nil
}

// sideID names one of the two tables.
type sideID int

const (
	sourceSide sideID = iota
	targetSide
)

// side reads one table.
type side struct {
	scan *scanner
	get  *getter
}

// verifier is the state of one Verify run.
type verifier struct {
	opts  VerifyOptions
	keys  keySchema
	side  [2]side
	meter *meter

	scanned                            [2]atomic.Int64
	missing, extra, different, settled atomic.Int64
	filtered, collisions, ruleErrors   atomic.Int64
}

// suspect is an item that looked different.
type suspect struct {
	id  string
	key Item
}

// segment scans one segment of the table on side from and looks each item
// up in the other table. The source pass reports missing and different
// items; the target pass reports extra items only.
func (v *verifier) segment(ctx context.Context, from sideID, seg int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	other := v.side[1-from]
	pages, scanDone := v.side[from].scan.prefetch(ctx, seg, nil)
	err := func() error {
		for pg := range pages {
			if from == targetSide {
				pg.items = v.dropTombstones(pg.items)
			}
			v.scanned[from].Add(int64(len(pg.items)))
			var mu sync.Mutex
			var suspects []suspect
			err := forChunks(ctx, pg.items, maxBatchGet, maxGetsPerSegment, func(ctx context.Context, items []Item) error {
				keys := make([]Item, len(items))
				for i, item := range items {
					keys[i] = v.keys.key(item)
				}
				lookup := other.get.get
				if from == targetSide {
					lookup = func(ctx context.Context, keys []Item, _ bool) (map[string]Item, error) {
						return other.get.exists(ctx, keys)
					}
				}
				found, err := lookup(ctx, keys, false)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for i, item := range items {
					id, err := v.keys.id(item)
					if err != nil {
						return fmt.Errorf("scan %s: %w", v.side[from].scan.table, err)
					}
					twin, ok := found[id]
					if from == sourceSide {
						twin = v.opts.Attrs.Visible(twin)
						ok = twin != nil
					}
					if !ok || (from == sourceSide && !tablecmp.EqualItems(item, twin)) {
						suspects = append(suspects, suspect{id: id, key: keys[i]})
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := v.recheck(ctx, from, suspects); err != nil {
				return err
			}
			v.meter.add(len(pg.items))
		}
		return nil
	}()
	cancel() // stops the scan if the loop ended early
	if serr := scanDone(); err == nil {
		err = serr // the loop drained the pages: the scan has ended by itself
	}
	return err
}

// dropTombstones returns items without the tombstones, in place.
func (v *verifier) dropTombstones(items []Item) []Item {
	return slices.DeleteFunc(items, v.opts.Attrs.IsTombstone)
}

// recheck re-reads suspects from both tables with strongly consistent
// reads, up to Rechecks times, and reports those still different.
func (v *verifier) recheck(ctx context.Context, pass sideID, suspects []suspect) error {
	for attempt := 1; len(suspects) > 0; attempt++ {
		if attempt > 1 && v.opts.RecheckDelay > 0 {
			if err := sleepCtx(ctx, v.opts.RecheckDelay); err != nil {
				return err
			}
		}
		var left []suspect
		var diffs []Difference
		for lo := 0; lo < len(suspects); lo += maxBatchGet {
			chunk := suspects[lo:min(lo+maxBatchGet, len(suspects))]
			keys := make([]Item, len(chunk))
			for i, s := range chunk {
				keys[i] = s.key
			}
			// Target first: a target value read before the source value is
			// never newer than it, so a stale target is not mistaken for a
			// newer one.
			dst, err := v.side[targetSide].get.get(ctx, keys, true)
			if err != nil {
				return err
			}
			srcItems, err := v.side[sourceSide].get.get(ctx, keys, true)
			if err != nil {
				return err
			}
			for _, s := range chunk {
				d, differ := classify(pass, s.key, srcItems[s.id], v.opts.Attrs.Visible(dst[s.id]))
				if !differ {
					v.settled.Add(1)
					continue
				}
				left = append(left, s)
				diffs = append(diffs, d)
			}
		}
		if attempt >= v.opts.Rechecks {
			return v.report(ctx, diffs)
		}
		suspects = left
	}
	return nil
}

// classify compares the consistent reads of one item. The source pass
// reports missing and different items, the target pass extra ones; each
// leaves the other kinds to the other pass.
func classify(pass sideID, key, src, dst Item) (Difference, bool) {
	d := Difference{Key: key, Source: src, Target: dst}
	switch {
	case pass == targetSide:
		d.Kind = Extra
		return d, src == nil && dst != nil
	case src == nil:
		return d, false // deleted since; the target pass sees any leftover
	case dst == nil:
		d.Kind = Missing
		return d, true
	}
	d.Kind, d.Attributes = Different, tablecmp.DiffItems(src, dst)
	return d, len(d.Attributes) > 0
}

// report counts diffs and hands them to OnDifference.
func (v *verifier) report(ctx context.Context, diffs []Difference) error {
	for _, d := range diffs {
		switch d.Kind {
		case Missing:
			v.missing.Add(1)
		case Extra:
			v.extra.Add(1)
		case Different:
			v.different.Add(1)
		case Collision:
			v.collisions.Add(1)
		case RuleFailed:
			v.ruleErrors.Add(1)
		}
		if v.opts.OnDifference != nil {
			if err := v.opts.OnDifference(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// forChunks calls fn on consecutive chunks of items of at most size,
// at most concurrency at a time, and returns the first error.
func forChunks(ctx context.Context, items []Item, size, concurrency int, fn func(context.Context, []Item) error) error {
	if len(items) <= size {
		if len(items) == 0 {
			return nil
		}
		return fn(ctx, items)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for lo := 0; lo < len(items) && ctx.Err() == nil; lo += size {
		chunk := items[lo:min(lo+size, len(items))]
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fn(ctx, chunk); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}
