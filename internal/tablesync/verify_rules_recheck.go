package tablesync

import (
	"context"
	"time"

	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// recheckRules re-reads suspects with strongly consistent reads, up to
// Rechecks times, and reports those still different.
func (v *ruleVerifier) recheckRules(ctx context.Context, suspects []ruleSuspect,
	recheck func(context.Context, []ruleSuspect) ([]ruleSuspect, []Difference, error),
) error {
	for attempt := 1; len(suspects) > 0; attempt++ {
		if attempt > 1 && v.opts.RecheckDelay > 0 {
			if err := sleepCtx(ctx, v.opts.RecheckDelay); err != nil {
				return err
			}
		}
		var left []ruleSuspect
		var diffs []Difference
		for lo := 0; lo < len(suspects); lo += maxBatchGet {
			l, d, err := recheck(ctx, suspects[lo:min(lo+maxBatchGet, len(suspects))])
			if err != nil {
				return err
			}
			left, diffs = append(left, l...), append(diffs, d...)
		}
		if attempt >= v.opts.Rechecks {
			return v.report(ctx, diffs)
		}
		suspects = left
	}
	return nil
}

// distinct returns the keys of suspects (by id), each once, skipping nil.
func distinct(suspects []ruleSuspect, key func(ruleSuspect) (Item, string)) []Item {
	seen := map[string]bool{}
	var out []Item
	for _, s := range suspects {
		k, id := key(s)
		if k == nil || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, k)
	}
	return out
}

func bySource(s ruleSuspect) (Item, string) { return s.sk, s.skID }
func byTarget(s ruleSuspect) (Item, string) { return s.tk, s.tkID }

// recheckSource re-reads source-pass suspects, target first, and
// classifies those still different: the source item through the rules is
// missing from the target or differs from it, the rules fail on it, or
// another source item maps to the same target key (a collision). A
// suspect settles only when the target matches what the rules now make of
// its source item: one whose source item moved to another target key is
// rechecked at that key (one level: a move of a move is the next
// verify's), and one whose source item no longer maps to its old key
// leaves its copy there to the target pass ([ruleVerifier.unmapped]).
func (v *ruleVerifier) recheckSource(ctx context.Context, chunk []ruleSuspect) ([]ruleSuspect, []Difference, error) {
	return v.recheckSourceAt(ctx, chunk, true)
}

// recheckSourceAt is recheckSource; follow says whether a move to another
// target key is rechecked there.
func (v *ruleVerifier) recheckSourceAt(ctx context.Context, chunk []ruleSuspect, follow bool) ([]ruleSuspect, []Difference, error) {
	dst, err := v.side[targetSide].get.get(ctx, distinct(chunk, byTarget), true)
	if err != nil {
		return nil, nil, err
	}
	srcItems, err := v.side[sourceSide].get.get(ctx, distinct(chunk, bySource), true)
	if err != nil {
		return nil, nil, err
	}
	var left, movedTo []ruleSuspect
	var diffs []Difference
	for _, s := range chunk {
		src := srcItems[s.skID]
		if src == nil {
			v.unmapped(s, dst) // deleted since
			continue
		}
		tk, out, keep, err := v.rs.Target(src, s.sk)
		if err == nil && keep {
			var id string
			if id, err = v.dstKeys.id(tk); err == nil && (s.tk == nil || id != s.tkID) {
				// Mapped to another target key since (or mapped now, after a
				// rules error): the old key's copy must go, the new one match.
				if s.tk != nil {
					v.unmapped(s, dst)
				}
				ns := ruleSuspect{sk: s.sk, skID: s.skID, tk: tk, tkID: id}
				if v.expected != nil {
					if d, collided := v.expect(ns); collided {
						if err := v.report(ctx, []Difference{d}); err != nil {
							return nil, nil, err
						}
						continue
					}
				}
				if follow {
					movedTo = append(movedTo, ns)
				} else {
					v.settled.Add(1) // moved again: the next verify's
				}
				continue
			}
		}
		if err != nil {
			left = append(left, s)
			diffs = append(diffs, Difference{Kind: RuleFailed, Key: s.sk, SourceKey: s.sk, Error: err.Error()})
			continue
		}
		if !keep {
			v.unmapped(s, dst) // left the filter since
			continue
		}
		twin := v.opts.Attrs.Visible(dst[s.tkID])
		d := Difference{Key: s.tk, SourceKey: s.sk, TargetKey: s.tk, Source: out, Target: twin}
		switch {
		case twin == nil:
			d.Kind = Missing
		case tablecmp.EqualItems(out, twin):
			v.settled.Add(1)
			continue
		default:
			d.Kind, d.Attributes = Different, tablecmp.DiffItems(out, twin)
			if other, ok := v.collidesWith(ctx, s, twin); ok {
				d.Kind, d.Attributes, d.OtherSourceKey = Collision, nil, other
				d.Error = collisionError(other, s.sk, s.tk).Error()
			}
		}
		left = append(left, s)
		diffs = append(diffs, d)
	}
	if len(movedTo) > 0 {
		l, d, err := v.recheckSourceAt(ctx, movedTo, false)
		if err != nil {
			return nil, nil, err
		}
		left, diffs = append(left, l...), append(diffs, d...)
	}
	return left, diffs, nil
}

// unmapped handles a suspect whose source item, re-read, no longer maps
// to s.tk (deleted, filtered out or moved since): the copy at s.tk, if
// any, must go. It settles if that copy is gone; otherwise the target
// pass, which runs after the whole source pass, reports it extra (or
// finds it gone by then): with the reverse mapping it reads the copy's
// owner back, and in the fallback s.tk leaves the expected set here.
func (v *ruleVerifier) unmapped(s ruleSuspect, dst map[string]Item) {
	if s.tk == nil {
		v.settled.Add(1) // no copy was expected
		return
	}
	if v.expected != nil {
		skJSON := KeyJSON(s.sk)
		v.mu.Lock()
		if v.expected[s.tkID] == skJSON {
			delete(v.expected, s.tkID)
		}
		v.mu.Unlock()
	}
	if v.opts.Attrs.Visible(dst[s.tkID]) == nil {
		v.settled.Add(1)
	}
}

// collidesWith reports whether the target item twin at s.tk belongs to
// another source item that maps to s.tk too (reverse mapping only; the
// fallback finds collisions in its expected set).
func (v *ruleVerifier) collidesWith(ctx context.Context, s ruleSuspect, twin Item) (Item, bool) {
	if !v.reverse {
		return nil, false
	}
	other, ok := v.rs.SourceKey(twin, v.srcKeys)
	if !ok {
		return nil, false
	}
	otherID, err := v.srcKeys.id(other)
	if err != nil || otherID == s.skID {
		return nil, false
	}
	found, err := v.side[sourceSide].get.get(ctx, []Item{other}, true)
	if err != nil {
		return nil, false // counted as different; a repair re-reads
	}
	return other, v.mapsTo(found[otherID], other, s.tkID)
}

// recheckTarget re-reads target-pass suspects, target first, and reports
// as extra those still present that no source item maps to: with the
// reverse mapping, whose source item (re-read after the target item) is
// gone, filtered out or mapped elsewhere; without it, whose key the
// source pass did not expect.
func (v *ruleVerifier) recheckTarget(ctx context.Context, chunk []ruleSuspect) ([]ruleSuspect, []Difference, error) {
	dst, err := v.side[targetSide].get.get(ctx, distinct(chunk, byTarget), true)
	if err != nil {
		return nil, nil, err
	}
	fresh := make([]ruleSuspect, 0, len(chunk))
	for _, s := range chunk {
		twin := v.opts.Attrs.Visible(dst[s.tkID])
		if twin == nil {
			v.settled.Add(1)
			continue
		}
		s.sk, s.skID = nil, ""
		if v.reverse {
			if sk, ok := v.rs.SourceKey(twin, v.srcKeys); ok {
				if id, err := v.srcKeys.id(sk); err == nil {
					s.sk, s.skID = sk, id
				}
			}
		}
		fresh = append(fresh, s)
	}
	var srcItems map[string]Item
	if v.reverse {
		if srcItems, err = v.side[sourceSide].get.get(ctx, distinct(fresh, bySource), true); err != nil {
			return nil, nil, err
		}
	}
	var left []ruleSuspect
	var diffs []Difference
	for _, s := range fresh {
		if s.sk != nil && v.mapsTo(srcItems[s.skID], s.sk, s.tkID) {
			v.settled.Add(1)
			continue
		}
		if v.keptExpired(dst[s.tkID], s.sk, srcItems[s.skID], time.Now()) {
			v.expiredKept.Add(1) // ttl_deletes: skip keeps it
			continue
		}
		left = append(left, s)
		diffs = append(diffs, Difference{Kind: Extra, Key: s.tk, SourceKey: s.sk, TargetKey: s.tk,
			Target: v.opts.Attrs.Visible(dst[s.tkID])})
	}
	return left, diffs, nil
}
