package tablesync

import (
	"context"
	"sort"
	"sync"

	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// DefaultMaxExamples is how many differences [Compare] keeps.
const DefaultMaxExamples = 10

// CompareOptions configures [Compare]; zero fields take the defaults.
type CompareOptions struct {
	// MaxExamples bounds Comparison.Examples (default DefaultMaxExamples).
	MaxExamples int
	// Attrs names the queue path's attributes in target items.
	Attrs replattr.Names
}

// Comparison is the outcome of [Compare].
type Comparison struct {
	VerifyResult
	// Examples are the first MaxExamples differences found, sorted by
	// kind and key.
	Examples []Difference
}

// Compare is [Verify] for tables that are not being written: one
// consistent re-read of each apparent difference, no wait, and the first
// differences kept. The demo and the tests compare tables with it.
func Compare(ctx context.Context, src TableReader, srcTable string, dst TableReader, dstTable string, opts CompareOptions) (Comparison, error) {
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = DefaultMaxExamples
	}
	var mu sync.Mutex
	var examples []Difference
	res, err := Verify(ctx, src, srcTable, dst, dstTable, VerifyOptions{
		Rechecks: 1, RecheckDelay: -1, Attrs: opts.Attrs,
		OnDifference: func(_ context.Context, d Difference) error {
			mu.Lock()
			defer mu.Unlock()
			if len(examples) < opts.MaxExamples {
				examples = append(examples, d)
			}
			return nil
		},
	})
	sort.Slice(examples, func(i, j int) bool {
		if examples[i].Kind != examples[j].Kind {
			return examples[i].Kind < examples[j].Kind
		}
		a, _ := replicate.KeyID(examples[i].Key)
		b, _ := replicate.KeyID(examples[j].Key)
		return a < b
	})
	return Comparison{VerifyResult: res, Examples: examples}, err
}
