package tablesync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// ruleVerifier is a Verify run through a rule set: the source pass
// compares each source item through the rules with the target item at its
// target key, the target pass finds target items no source item maps to.
type ruleVerifier struct {
	*verifier
	rs       *rules.RuleSet
	srcKeys  keySchema // the source table's key
	dstKeys  keySchema // the target table's key
	reverse  bool      // the rules carry the source key into target items
	mu       sync.Mutex
	expected map[string]string // !reverse: target key id -> source key JSON
	// ttlAttr is the target attribute holding the source's TTL when the
	// rules keep the items it expires (ttl_deletes: skip); "" otherwise.
	ttlAttr     string
	expiredKept atomic.Int64
}

// ruleSuspect is an item that looked different under the rules.
type ruleSuspect struct {
	sk, tk     Item // tk is nil when unknown (a rules error; an extra item's source key)
	skID, tkID string
}

// CheckTargetKey returns an error wrapping [ErrKeySchema] unless the
// target's key attributes are those the rules give a source keyed by
// source.Keys ([rules.RuleSet.TargetKeyNames]), in any order, of the
// types the rules give them where the rules tell
// ([rules.RuleSet.TargetKeyTypes]; an attribute whose type they do not
// tell is not checked). Without rules the key attributes and their types
// must be the same.
func CheckTargetKey(source, target TableInfo, rs *rules.RuleSet) error {
	if rs.IsIdentity() {
		if !source.SameKey(target) {
			return fmt.Errorf("%w: %s has key %s, %s has key %s", ErrKeySchema, source.Name, source.KeyString(), target.Name, target.KeyString())
		}
		return nil
	}
	want := rs.TargetKeyNames(source.Keys)
	got := slices.Clone(target.Keys)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return fmt.Errorf("%w: the rules (%s) give target key %v for source key %v, and %s has key %s",
			ErrKeySchema, rs.Source, want, source.Keys, target.Name, target.KeyString())
	}
	// The types, where the rules tell them (an unknown type is not checked).
	srcTypes := map[string]types.ScalarAttributeType{}
	for i, k := range source.Keys {
		if i < len(source.KeyTypes) && source.KeyTypes[i] != "" {
			srcTypes[k] = source.KeyTypes[i]
		}
	}
	wantTypes, _ := rs.TargetKeyTypes(srcTypes, nil)
	for i, k := range target.Keys {
		if w, ok := wantTypes[k]; ok && w != "" && i < len(target.KeyTypes) && target.KeyTypes[i] != "" && target.KeyTypes[i] != w {
			return fmt.Errorf("%w: the rules (%s) make target key attribute %s of type %s, and %s has key %s",
				ErrKeySchema, rs.Source, k, w, target.Name, target.KeyString())
		}
	}
	return nil
}

// verifyRules is Verify with opts.Rules.
func verifyRules(ctx context.Context, start time.Time, src TableReader, srcTable string, dst TableReader, dstTable string,
	opts VerifyOptions, segs []int, concurrency int,
) (VerifyResult, error) {
	sInfo, err := describe(ctx, src, srcTable)
	if err != nil {
		return VerifyResult{}, err
	}
	dInfo, err := describe(ctx, dst, dstTable)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := CheckTargetKey(sInfo.export(), dInfo.export(), opts.Rules); err != nil {
		return VerifyResult{}, fmt.Errorf("compare tables %s and %s: %w", srcTable, dstTable, err)
	}
	retry := opts.Retry.Or(dynamo.DefaultRetry)
	total := opts.Segments.total()
	opts.Attrs = opts.Attrs.WithDefaults()
	v := &ruleVerifier{verifier: &verifier{opts: opts, keys: sInfo.keys}, rs: opts.Rules, srcKeys: sInfo.keys, dstKeys: dInfo.keys}
	paths, reverse := opts.Rules.SourceKeyPaths(sInfo.keys)
	v.reverse = reverse
	if !reverse {
		v.expected = map[string]string{}
	}
	if opts.Rules.TTL == rules.TTLSkip && opts.TTLAttribute != "" {
		if to, ok := opts.Rules.TargetAttribute(opts.TTLAttribute); ok {
			v.ttlAttr = to
		} else {
			log := opts.Logger.With(slog.String(keySource, srcTable), slog.String(keyTarget, dstTable))
			log.Warn("ttl attribute not in target", slog.String("ttlAttribute", opts.TTLAttribute))
		}
	}
	// The target pass reads the target key, the tombstone marker and the
	// top-level attributes that carry the source key.
	also := []string{opts.Attrs.Deleted}
	for _, p := range paths {
		if !slices.Contains(dInfo.keys, p[0]) && !slices.Contains(also, p[0]) {
			also = append(also, p[0])
		}
	}
	srcRCU, dstRCU := newRateLimiter(opts.MaxRCU), newRateLimiter(opts.MaxRCU)
	v.side[sourceSide] = side{
		scan: &scanner{api: src, table: srcTable, total: total, pageSize: opts.PageSize, limiter: srcRCU, retry: retry},
		get:  &getter{api: src, table: srcTable, keys: sInfo.keys, limiter: srcRCU, retry: retry},
	}
	v.side[targetSide] = side{
		scan: &scanner{api: dst, table: dstTable, total: total, pageSize: opts.PageSize, keysOnly: dInfo.keys,
			alsoRead: also, limiter: dstRCU, retry: retry},
		get: &getter{api: dst, table: dstTable, keys: dInfo.keys, limiter: dstRCU, retry: retry},
	}
	log := opts.Logger.With(slog.String(keySource, srcTable), slog.String(keyTarget, dstTable))
	log.Info("verify started", slog.Int(keySegments, len(segs)), slog.Int("rules", len(opts.Rules.Rules)), slog.Bool("reverseMapping", reverse))

	share := func(n int64) int64 { return n * int64(len(segs)) / int64(total) }
	v.meter = startMeter(opts.Progress, "verify source", share(sInfo.itemCount), 0)
	err = runSegments(ctx, segs, concurrency, v.sourceSegment)
	if err == nil {
		v.meter.setPhase("verify target", share(dInfo.itemCount))
		err = runSegments(ctx, segs, concurrency, v.targetSegment)
	}
	v.meter.finish()

	res := VerifyResult{
		SourceItems: v.scanned[sourceSide].Load(), TargetItems: v.scanned[targetSide].Load(),
		Missing: v.missing.Load(), Extra: v.extra.Load(), Different: v.different.Load(),
		Settled: v.settled.Load(), Filtered: v.filtered.Load(), Collisions: v.collisions.Load(),
		RuleErrors: v.ruleErrors.Load(), ExpectedKeys: int64(len(v.expected)), ExpiredKept: v.expiredKept.Load(),
		Elapsed: time.Since(start),
	}
	attrs := []slog.Attr{
		slog.Int64(keySrcItems, res.SourceItems), slog.Int64(keyDstItems, res.TargetItems),
		slog.Int64(keyMissing, res.Missing), slog.Int64(keyExtra, res.Extra), slog.Int64(keyDiffer, res.Different),
		slog.Int64("collisions", res.Collisions), slog.Int64("ruleErrors", res.RuleErrors), slog.Int64("filtered", res.Filtered),
		slog.Int64("expiredKept", res.ExpiredKept),
		slog.Int64(keyElapsed, res.Elapsed.Milliseconds()),
	}
	if err != nil {
		log.LogAttrs(ctx, slog.LevelInfo, "verify failed", append(attrs, slog.String(keyError, dynamo.ErrorClass(err)))...)
		return res, fmt.Errorf("verify %s against %s: %w", srcTable, dstTable, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "verify finished", attrs...)
	return res, nil
}

// sourceSegment compares one source segment, through the rules, with the
// target: missing and different items, rule errors and collisions.
func (v *ruleVerifier) sourceSegment(ctx context.Context, seg int) error {
	return v.pass(ctx, sourceSide, seg, v.sourceChunk, v.recheckSource)
}

// targetSegment looks for target items of one segment that no source item
// maps to.
func (v *ruleVerifier) targetSegment(ctx context.Context, seg int) error {
	return v.pass(ctx, targetSide, seg, v.targetChunk, v.recheckTarget)
}

// pass scans one segment of side from, finds suspects chunk by chunk and
// rechecks them page by page.
func (v *ruleVerifier) pass(ctx context.Context, from sideID, seg int,
	chunk func(context.Context, []Item) ([]ruleSuspect, error),
	recheck func(context.Context, []ruleSuspect) ([]ruleSuspect, []Difference, error),
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, scanDone := v.side[from].scan.prefetch(ctx, seg, nil)
	err := func() error {
		for pg := range pages {
			if from == targetSide {
				pg.items = v.dropTombstones(pg.items)
			}
			v.scanned[from].Add(int64(len(pg.items)))
			var mu sync.Mutex
			var suspects []ruleSuspect
			err := forChunks(ctx, pg.items, maxBatchGet, maxGetsPerSegment, func(ctx context.Context, items []Item) error {
				s, err := chunk(ctx, items)
				mu.Lock()
				suspects = append(suspects, s...)
				mu.Unlock()
				return err
			})
			if err != nil {
				return err
			}
			if err := v.recheckRules(ctx, suspects, recheck); err != nil {
				return err
			}
			v.meter.add(len(pg.items))
		}
		return nil
	}()
	cancel()
	if serr := scanDone(); err == nil {
		err = serr
	}
	return err
}

// sourceChunk maps source items through the rules and looks their target
// keys up in the target (eventually consistent).
func (v *ruleVerifier) sourceChunk(ctx context.Context, items []Item) ([]ruleSuspect, error) {
	type want struct {
		s    ruleSuspect
		item Item
	}
	var suspects []ruleSuspect
	var wants []want
	var tks []Item
	seen := map[string]bool{}
	for _, it := range items {
		skID, err := v.srcKeys.id(it)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", v.side[sourceSide].scan.table, err)
		}
		s := ruleSuspect{sk: v.srcKeys.key(it), skID: skID}
		tk, out, keep, err := v.rs.Target(it, s.sk)
		if err != nil {
			suspects = append(suspects, s) // the recheck re-reads and reports it
			continue
		}
		if !keep {
			v.filtered.Add(1)
			continue
		}
		if s.tkID, err = v.dstKeys.id(tk); err != nil {
			suspects = append(suspects, s)
			continue
		}
		s.tk = tk
		if v.expected != nil {
			if d, collided := v.expect(s); collided {
				if err := v.report(ctx, []Difference{d}); err != nil {
					return nil, err
				}
				continue
			}
		}
		wants = append(wants, want{s: s, item: out})
		if !seen[s.tkID] {
			seen[s.tkID] = true
			tks = append(tks, tk)
		}
	}
	found, err := v.side[targetSide].get.get(ctx, tks, false)
	if err != nil {
		return nil, err
	}
	for _, w := range wants {
		twin := v.opts.Attrs.Visible(found[w.s.tkID])
		if twin == nil || !tablecmp.EqualItems(w.item, twin) {
			suspects = append(suspects, w.s)
		}
	}
	return suspects, nil
}

// expect records that s's source item maps to s.tk (the fallback of a
// rule set that does not carry the source key), or returns the collision
// if another source item already does.
func (v *ruleVerifier) expect(s ruleSuspect) (Difference, bool) {
	skJSON := KeyJSON(s.sk)
	v.mu.Lock()
	other, dup := v.expected[s.tkID]
	if !dup {
		v.expected[s.tkID] = skJSON
	}
	v.mu.Unlock()
	if !dup || other == skJSON {
		return Difference{}, false
	}
	otherKey, _ := decodeKey([]byte(other))
	return Difference{Kind: Collision, Key: s.tk, SourceKey: s.sk, TargetKey: s.tk, OtherSourceKey: otherKey,
		Error: collisionError(otherKey, s.sk, s.tk).Error()}, true
}

// targetChunk finds target items that may have no source item: with the
// reverse mapping, those whose source item is gone or maps elsewhere
// (eventually consistent reads); without it, those whose key the source
// pass did not expect.
func (v *ruleVerifier) targetChunk(ctx context.Context, items []Item) ([]ruleSuspect, error) {
	var suspects, owned []ruleSuspect
	var sks []Item
	seen := map[string]bool{}
	for _, it := range items {
		tkID, err := v.dstKeys.id(it)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", v.side[targetSide].scan.table, err)
		}
		s := ruleSuspect{tk: v.dstKeys.key(it), tkID: tkID}
		if !v.reverse {
			v.mu.Lock()
			_, ok := v.expected[tkID]
			v.mu.Unlock()
			if !ok {
				suspects = append(suspects, s)
			}
			continue
		}
		sk, ok := v.rs.SourceKey(it, v.srcKeys)
		if !ok {
			suspects = append(suspects, s) // no source item maps to an item without the source key
			continue
		}
		s.sk = sk
		if s.skID, err = v.srcKeys.id(sk); err != nil {
			suspects = append(suspects, s)
			continue
		}
		owned = append(owned, s)
		if !seen[s.skID] {
			seen[s.skID] = true
			sks = append(sks, sk)
		}
	}
	if len(owned) == 0 {
		return suspects, nil
	}
	found, err := v.side[sourceSide].get.get(ctx, sks, false)
	if err != nil {
		return nil, err
	}
	for _, s := range owned {
		if !v.mapsTo(found[s.skID], s.sk, s.tkID) {
			suspects = append(suspects, s)
		}
	}
	return suspects, nil
}

// mapsTo reports whether source item src (nil: none) passes the filters
// and maps to the target key tkID. A rules error is no: the source pass
// reports it.
func (v *ruleVerifier) mapsTo(src, sk Item, tkID string) bool {
	if src == nil {
		return false
	}
	tk, _, keep, err := v.rs.Target(src, sk)
	if err != nil || !keep {
		return false
	}
	id, err := v.dstKeys.id(tk)
	return err == nil && id == tkID
}

// keptExpired reports whether the target item twin, which no source item
// maps to, is a copy the rules keep after the source's TTL expired its
// source item: its own source item (sk, read as src; reverse mapping
// only) is gone and its TTL, a number of epoch seconds, is at or before
// now and not before ttlEverExpired. Without the reverse mapping the owner is unknown (a repair refuses
// it with ErrOwnerUnknown), so it stays extra.
func (v *ruleVerifier) keptExpired(twin, sk, src Item, now time.Time) bool {
	if v.ttlAttr == "" || !v.reverse || sk == nil || src != nil {
		return false
	}
	num, ok := twin[v.ttlAttr].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	secs, err := strconv.ParseFloat(num.Value, 64)
	return err == nil && secs >= ttlEverExpired && secs <= float64(now.UnixNano())/1e9
}

// ttlEverExpired is the earliest TTL, in epoch seconds, that DynamoDB's TTL
// can ever have expired: it ignores a TTL more than five years in the past
// and runs since February 2017, so an item with an earlier TTL (0, a
// negative number, a count) was deleted by someone, and its copy is extra.
// The bound is fixed, not five years before now, so a copy kept for more
// than five years stays kept.
const ttlEverExpired = 1330300800 // 2012-02-27T00:00:00Z
