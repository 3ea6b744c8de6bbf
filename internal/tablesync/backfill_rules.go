package tablesync

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// MaxFailedItems bounds the failed items a backfill keeps.
const MaxFailedItems = 1000

// ErrItemsFailed is returned (wrapped) by a backfill that left items out
// because the rules failed on them or mapped two of them to one target key.
var ErrItemsFailed = errors.New("items not copied")

// ItemFailure is a source item that a rule set could not copy.
type ItemFailure struct {
	// SourceKey is the item's key in the source.
	SourceKey Item
	// TargetKey is the target key it maps to (nil if the rules failed).
	TargetKey Item
	// OtherSourceKey is, for a collision, the source key of the item that
	// took TargetKey first.
	OtherSourceKey Item
	// Err says why: the rules' error, or one wrapping rules.ErrCollision.
	Err error
}

// String names the failure by its keys, never the item's values.
func (f ItemFailure) String() string {
	s := "source key " + rules.FormatKey(f.SourceKey)
	if f.TargetKey != nil {
		s += ", target key " + rules.FormatKey(f.TargetKey)
	}
	return s + ": " + f.Err.Error()
}

// collisionError is the error of source item sk mapped to target key tk,
// which the source item other took first.
func collisionError(other, sk, tk Item) error {
	return fmt.Errorf("%w: source keys %s and %s both map to target key %s",
		rules.ErrCollision, rules.FormatKey(other), rules.FormatKey(sk), rules.FormatKey(tk))
}

// failureList keeps the first MaxFailedItems failures; safe for
// concurrent use.
type failureList struct {
	mu    sync.Mutex
	items []ItemFailure
}

func (l *failureList) add(f ItemFailure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.items) < MaxFailedItems {
		l.items = append(l.items, f)
	}
}

func (l *failureList) list() []ItemFailure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ItemFailure(nil), l.items...)
}

// ruleWrites is writes through the rule set.
func (b *backfill) ruleWrites(items []Item) ([]replicate.Write, float64, error) {
	writes := make([]replicate.Write, 0, len(items))
	owners := make(map[string]Item, len(items)) // target key id -> source key
	units := 0.0
	for _, item := range items {
		if _, err := b.keys.id(item); err != nil {
			return nil, 0, err
		}
		sk := b.keys.key(item)
		tk, out, keep, err := b.opts.Rules.Target(item, sk)
		if err != nil {
			b.failed.Add(1)
			b.failures.add(ItemFailure{SourceKey: sk, Err: err})
			continue
		}
		if !keep {
			b.filtered.Add(1)
			continue
		}
		id, ok := replicate.KeyID(tk)
		if !ok {
			b.failed.Add(1)
			b.failures.add(ItemFailure{SourceKey: sk, Err: fmt.Errorf("%w: the rules give target key %s", ErrBadKey, rules.FormatKey(tk))})
			continue
		}
		if other, dup := owners[id]; dup {
			b.failed.Add(1)
			b.collisions.Add(1)
			b.failures.add(ItemFailure{SourceKey: sk, TargetKey: tk, OtherSourceKey: other, Err: collisionError(other, sk, tk)})
			continue
		}
		owners[id] = sk
		writes = append(writes, replicate.Write{Op: replicate.OpPut, Key: tk, KeyID: id, Item: out})
		units += writeUnits(out)
	}
	return writes, units, nil
}
