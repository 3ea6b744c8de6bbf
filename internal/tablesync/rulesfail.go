package tablesync

import (
	"fmt"
	"sync"

	"github.com/ddbsync/ddbsync/internal/rules"
)

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
