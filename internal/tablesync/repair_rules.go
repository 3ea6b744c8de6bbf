package tablesync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Errors of a repair with rules.
var (
	// ErrOwnerUnknown is returned for a target item that no candidate
	// source item maps to when the rules do not carry the source key into
	// the target: another source item may own it, so it is not deleted.
	ErrOwnerUnknown = errors.New("source item of the target item unknown")
	// ErrExpiredKept is returned for a target item whose source item is
	// gone when the rules keep the items the source's TTL expires
	// (ttl_deletes: skip): it may be such an item, which the stream will
	// not bring back, so it is not deleted.
	ErrExpiredKept = errors.New("target item kept: the rules skip TTL deletes")
)

// moved is a target key a source item maps to now, found while repairing
// another target key: it is repaired next, with that source key as hint.
type moved struct {
	tk, sk Item
}

// RepairTarget makes the target item at target key tk what the rules
// make of its source item, or absent if no source item maps to tk any
// more. hint, if not nil, is the source key of an item that may map to tk
// (a verify difference's SourceKey, a redriven record's key); the owner
// of the target item found there is recovered with
// [rules.RuleSet.SourceKey]. A source item that now maps to another target
// key has that key repaired too. seq is as for [Repairer.RepairSeq].
// Without rules it is RepairSeq(ctx, tk, seq).
func (r *Repairer) RepairTarget(ctx context.Context, tk, hint Item, seq string) (Action, error) {
	if r.opts.Rules.IsIdentity() {
		return r.RepairSeq(ctx, tk, seq)
	}
	padded, err := padSeq(seq)
	if err != nil {
		return ActionNone, err
	}
	act, next, err := r.repairRules(ctx, tk, hint, padded)
	r.record(ctx, tk, act, err)
	for _, m := range next {
		a, _, e := r.repairRules(ctx, m.tk, m.sk, padded) // one level: a move of a move is the next run's
		r.record(ctx, m.tk, a, e)
		err = errors.Join(err, e)
	}
	return act, err
}

// RepairSource repairs every target key the source item with key sk may
// have a copy at: the key its current value maps to (filters aside, so a
// copy left by an item that has since left the filter is deleted), the key
// the rules give from sk alone (without a key rule, the renamed source
// key), and also (the keys of a redriven record's old and new images).
// Without rules it is RepairSeq(ctx, sk, seq).
func (r *Repairer) RepairSource(ctx context.Context, sk Item, seq string, also ...Item) (Action, error) {
	if r.opts.Rules.IsIdentity() {
		return r.RepairSeq(ctx, sk, seq)
	}
	tks, err := r.targetKeysOf(ctx, sk, also)
	if err != nil {
		r.record(ctx, sk, ActionNone, err)
		return ActionNone, err
	}
	last := ActionNone
	for _, tk := range tks {
		act, e := r.RepairTarget(ctx, tk, sk, seq)
		if act != ActionNone {
			last = act
		}
		err = errors.Join(err, e)
	}
	return last, err
}

// targetKeysOf lists, each once, the target keys a source item may have a
// copy at.
func (r *Repairer) targetKeysOf(ctx context.Context, sk Item, also []Item) ([]Item, error) {
	var out []Item
	seen := map[string]bool{}
	add := func(k Item) {
		if id, ok := replicate.KeyID(k); ok && !seen[id] {
			seen[id] = true
			out = append(out, k)
		}
	}
	src, err := r.get(ctx, r.src, r.srcTable, sk)
	if err != nil {
		return nil, err
	}
	if src != nil {
		k, err := r.opts.Rules.UnfilteredKey(src, sk)
		if err != nil {
			return nil, fmt.Errorf("repair: %w", err)
		}
		add(k)
	}
	// The key from sk alone, when the rules give one (no key rule, or a key
	// rule that reads only the source key).
	if ws, err := r.opts.Rules.Writes(rules.Change{Event: rules.EventRemove, Keys: sk}); err == nil {
		for _, w := range ws {
			add(w.Key)
		}
	}
	for _, k := range also {
		add(k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("repair: the rules give no target key for source key %s without its item", rules.FormatKey(sk))
	}
	return out, nil
}

// repairRules is repair through the rules, for target key tk: read the
// target item (consistent), find its owner's source key (from the item,
// else hint), read the source item (consistent), expect what the rules
// make of it if it maps to tk, else nothing; write with the condition that
// the target item is still as read; loop until equal. It returns the other
// target keys the candidates map to now.
func (r *Repairer) repairRules(ctx context.Context, tk, hint Item, minSeq string) (Action, []moved, error) {
	if len(tk) == 0 {
		return ActionNone, nil, fmt.Errorf("repair: %w: empty key", ErrBadKey)
	}
	tkID, ok := replicate.KeyID(tk)
	if !ok {
		return ActionNone, nil, fmt.Errorf("repair: %w: target key %s", ErrBadKey, rules.FormatKey(tk))
	}
	done := ActionNone
	var next []moved
	for round := 1; ; round++ {
		rctx := ctx
		if done != ActionNone && ctx.Err() != nil {
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalCheckTimeout)
			defer cancel()
			rctx = c
		}
		// The target first, then its owners in the source: see the package
		// documentation for why this order keeps the guarantee.
		dst, err := r.get(rctx, r.dst, r.dstTable, tk)
		if err != nil {
			return done, next, err
		}
		visible := r.opts.Attrs.Visible(dst)
		want, others, err := r.expected(rctx, tk, tkID, visible, hint)
		if err != nil {
			return done, next, err
		}
		next = mergeMoved(next, others)
		if sameItem(want, visible) {
			return done, next, nil
		}
		if err := ctx.Err(); err != nil {
			return done, next, fmt.Errorf("repair item in %s: stopped before the target item was equal to the source: %w", r.dstTable, context.Cause(ctx))
		}
		act := ActionPut
		if want == nil {
			act = ActionDelete
		}
		if r.opts.DryRun {
			return act, next, nil
		}
		if round > r.opts.Rounds {
			return done, next, fmt.Errorf("repair item in %s: %w after %d writes: the target item may be older than the source's; repair it again once writes calm down",
				r.dstTable, ErrStillChanging, r.opts.Rounds)
		}
		err = r.write(ctx, tk, want, dst, minSeq)
		var conflict *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &conflict):
			r.conflicts.Add(1)
		case err != nil:
			return done, next, err
		default:
			done = act
		}
	}
}

// expected returns what the target item at tk should be (nil: absent):
// what the rules make of the one candidate source item that maps to tk.
// The candidates are the owner recovered from the target item and hint;
// the other target keys they map to are returned. Two candidates mapping
// to tk are a collision (rules.ErrCollision); a target item whose owner
// cannot be recovered and that no candidate maps to is ErrOwnerUnknown;
// with ttl_deletes: skip, one whose own source item is gone is
// ErrExpiredKept.
func (r *Repairer) expected(ctx context.Context, tk Item, tkID string, visible, hint Item) (Item, []moved, error) {
	var cands []Item
	unknown, recovered := false, false
	if visible != nil {
		if sk, ok := r.opts.Rules.SourceKey(visible, r.opts.SourceKeys); ok {
			cands, recovered = append(cands, sk), true
		} else if !r.opts.Rules.Reversible(r.opts.SourceKeys) {
			unknown = true
		}
		// else: the item lacks the source key the rules always carry, so
		// no source item makes it: it is deleted.
	}
	if hint != nil {
		if hid, ok := replicate.KeyID(hint); ok && (len(cands) == 0 || hid != mustKeyID(cands[0])) {
			cands = append(cands, hint)
		}
	}
	var want, owner Item
	var others []moved
	ownerGone := false // the target item's own source item is gone
	for i, sk := range cands {
		src, err := r.get(ctx, r.src, r.srcTable, sk)
		if err != nil {
			return nil, nil, err
		}
		if src == nil {
			ownerGone = ownerGone || (i == 0 && recovered)
			continue
		}
		k, out, keep, err := r.opts.Rules.Target(src, sk)
		if err != nil {
			return nil, nil, fmt.Errorf("repair: source key %s: %w", rules.FormatKey(sk), err)
		}
		if !keep {
			continue
		}
		if id, _ := replicate.KeyID(k); id != tkID {
			others = append(others, moved{tk: k, sk: sk})
			continue
		}
		if want != nil {
			return nil, nil, fmt.Errorf("repair: %w", collisionError(owner, sk, tk))
		}
		want, owner = out, sk
	}
	if want == nil && ownerGone && r.opts.Rules.TTL == rules.TTLSkip {
		return nil, nil, fmt.Errorf("repair item in %s: %w: the source item of target key %s is gone, and the rules keep the items the source's TTL expires; "+
			"it is left as it is (delete it yourself if it was not expired)", r.dstTable, ErrExpiredKept, rules.FormatKey(tk))
	}
	if want == nil && unknown {
		return nil, nil, fmt.Errorf("repair item in %s: %w: the rules do not carry the source key into the target, and no source item given maps to target key %s; "+
			"it is left as it is (delete it yourself if no source item should map to it)", r.dstTable, ErrOwnerUnknown, rules.FormatKey(tk))
	}
	return want, others, nil
}

// mergeMoved adds the moves of b not in a.
func mergeMoved(a, b []moved) []moved {
	for _, m := range b {
		id := mustKeyID(m.tk)
		dup := false
		for _, x := range a {
			if mustKeyID(x.tk) == id {
				dup = true
			}
		}
		if !dup {
			a = append(a, m)
		}
	}
	return a
}

func mustKeyID(k Item) string {
	id, _ := replicate.KeyID(k)
	return id
}

// padSeq pads a stream sequence number for the queue path's guard; "" is
// "".
func padSeq(seq string) (string, error) {
	if seq == "" {
		return "", nil
	}
	p, err := dynamo.PadSeq(seq)
	if err != nil {
		return "", fmt.Errorf("repair: sequence number: %w", err)
	}
	return p, nil
}

// RepairDifferences is [Repairer.RepairAll] for verify's differences: it
// repairs each difference's key, concurrency at a time (default
// DefaultRepairConcurrency), with its SourceKey as the hint when the
// Repairer has rules ([Repairer.RepairTarget]), and calls report (if not
// nil, possibly from several goroutines) with each outcome. Collisions and
// rule errors are not repairable (the rule set must change): they are
// skipped, without a report. It returns ctx's error, if any.
func (r *Repairer) RepairDifferences(ctx context.Context, diffs <-chan Difference, concurrency int, report func(d Difference, act Action, err error)) error {
	if concurrency <= 0 {
		concurrency = DefaultRepairConcurrency
	}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for d := range diffs {
				if ctx.Err() != nil || d.Kind == Collision || d.Kind == RuleFailed {
					continue // drain
				}
				var act Action
				var err error
				if r.opts.Rules.IsIdentity() {
					act, err = r.Repair(ctx, d.Key)
				} else {
					act, err = r.RepairTarget(ctx, d.Key, d.SourceKey, "")
				}
				if report != nil {
					report(d, act, err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
