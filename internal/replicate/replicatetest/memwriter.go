// Package replicatetest provides an in-memory replicate.Writer for tests of
// the replicator and its adapters.
package replicatetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

var _ replicate.Writer = (*MemWriter)(nil)

// ErrRejected is the error MemWriter returns for a key listed in Reject.
var ErrRejected = errors.New("rejected by test")

// MemWriter is an in-memory target table. It checks the Writer contract
// (at most replicate.MaxBatchWrites distinct keys per call) the way DynamoDB
// does, so a test fails if the replicator breaks it.
type MemWriter struct {
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue
	// Reject lists KeyIDs whose writes fail with ErrRejected.
	Reject map[string]bool
	// Calls records the size of every WriteBatch call.
	Calls []int
}

// NewMemWriter returns an empty MemWriter.
func NewMemWriter() *MemWriter {
	return &MemWriter{items: map[string]map[string]types.AttributeValue{}, Reject: map[string]bool{}}
}

// WriteBatch implements replicate.Writer.
func (m *MemWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls = append(m.Calls, len(writes))
	errs := make([]error, len(writes))
	fail := func(err error) ([]error, int) {
		for i := range errs {
			errs[i] = err
		}
		return errs, 0
	}
	if len(writes) > replicate.MaxBatchWrites {
		return fail(fmt.Errorf("ValidationException: %d requests exceed %d", len(writes), replicate.MaxBatchWrites))
	}
	seen := map[string]bool{}
	for _, w := range writes {
		if seen[w.KeyID] {
			return fail(errors.New("ValidationException: Provided list of item keys contains duplicates"))
		}
		seen[w.KeyID] = true
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	failed := false
	for i, w := range writes {
		switch {
		case m.Reject[w.KeyID]:
			errs[i], failed = ErrRejected, true
		case w.Op == replicate.OpPut:
			m.items[w.KeyID] = w.Item
		default:
			delete(m.items, w.KeyID)
		}
	}
	if !failed {
		return nil, 0
	}
	return errs, 0
}

// Items returns a copy of the table, by KeyID.
func (m *MemWriter) Items() map[string]map[string]types.AttributeValue {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]map[string]types.AttributeValue, len(m.items))
	for k, v := range m.items {
		out[k] = v
	}
	return out
}
