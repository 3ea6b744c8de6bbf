// Package replicatetest provides the in-memory replicate.Writer of tests
// of the replicator and its adapters, and the contract suites
// ([RunWriterContract], [RunGuardContract]) that hold it and the
// DynamoDB-backed writers (dynamo.Table, dynamo.SeqGuard) to the same
// behaviour.
package replicatetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

var _ replicate.Writer = (*MemWriter)(nil)

// ErrRejected is the error MemWriter returns for a key listed in Reject.
var ErrRejected = errors.New("rejected by test")

// MemWriter is an in-memory target table. It checks the Writer contract
// (at most replicate.MaxBatchWrites distinct keys per call) the way DynamoDB
// does, so a test fails if the replicator breaks it. Keys are one item
// whatever the spelling of their numbers ("10" and "1E+1"), as in DynamoDB,
// and a write DynamoDB refuses ([ValidateItem]: an empty set, a number of
// 39 digits, an item of more than 400 KB, ...) fails alone, as it does
// through dynamo.Table.
//
// A delete with an Owner removes the item only if it holds the owner's
// attributes, as dynamo.Table's conditional DeleteItem does; otherwise it
// is skipped (NotOwned) and counts as success.
//
// A guarded MemWriter ([NewGuardedMemWriter]) applies the stale-write rule
// of dynamo.SeqGuard instead of plain writes.
//
// Both kinds pass [RunWriterContract] (the guarded one [RunGuardContract])
// with the DynamoDB-backed writers on DynamoDB Local.
type MemWriter struct {
	mu      sync.Mutex
	guarded bool
	items   map[string]memItem // by normalised key
	// seqs holds, guarded, the last applied sequence number by normalised
	// key, kept after a delete like the guard's tombstone.
	seqs map[string]string
	// Reject lists KeyIDs whose writes fail with ErrRejected.
	Reject map[string]bool
	// Calls records the size of every WriteBatch call.
	Calls []int
	// Stale counts, guarded, the writes skipped as stale.
	Stale int
	// NotOwned counts the deletes with an Owner skipped because the item
	// at their key does not hold it.
	NotOwned int
}

// memItem is a stored item and the KeyID of the write that stored it.
type memItem struct {
	keyID string
	item  map[string]types.AttributeValue
}

// NewMemWriter returns an empty MemWriter.
func NewMemWriter() *MemWriter {
	return &MemWriter{items: map[string]memItem{}, seqs: map[string]string{}, Reject: map[string]bool{}}
}

// NewGuardedMemWriter returns an empty MemWriter with the rule of
// dynamo.SeqGuard: each write must carry a valid Seq and applies only if it
// is newer than the last one applied to its key (a delete included), else
// it is skipped as stale and counts as success.
func NewGuardedMemWriter() *MemWriter {
	m := NewMemWriter()
	m.guarded = true
	return m
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
		id := normalKey(w)
		if seen[id] {
			return fail(errors.New("ValidationException: Provided list of item keys contains duplicates"))
		}
		seen[id] = true
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	failed := false
	for i, w := range writes {
		id := normalKey(w)
		if m.Reject[w.KeyID] {
			errs[i], failed = ErrRejected, true
			continue
		}
		if err := validate(w); err != nil {
			errs[i], failed = fmt.Errorf("%s item: %w", w.Op, err), true
			continue
		}
		if m.guarded {
			if err := replicate.ValidateSeq(w.Seq); err != nil {
				errs[i], failed = fmt.Errorf("guard %s: %w", w.Op, err), true
				continue
			}
			if old, ok := m.seqs[id]; ok && replicate.CompareSeq(old, w.Seq) >= 0 {
				m.Stale++
				continue
			}
		}
		if w.Op == replicate.OpDelete && w.Owner != nil && !m.owns(m.items[id].item, w.Owner) {
			m.NotOwned++
			continue
		}
		if m.guarded {
			m.seqs[id] = w.Seq
		}
		if w.Op == replicate.OpPut {
			m.items[id] = memItem{keyID: w.KeyID, item: w.Item}
		} else {
			delete(m.items, id)
		}
	}
	if !failed {
		return nil, 0
	}
	return errs, 0
}

// owns reports whether a delete with owner removes item, as the
// condition of dynamo.Table does (the item holds every owner attribute
// with an equal value; no item: nothing to delete) or, guarded, that of
// dynamo.SeqGuard, which also writes its tombstone where there is no item
// or one without the first owner attribute (in name order).
func (m *MemWriter) owns(item, owner map[string]types.AttributeValue) bool {
	if item == nil {
		return m.guarded
	}
	if m.guarded {
		names := make([]string, 0, len(owner))
		for name := range owner {
			names = append(names, name)
		}
		sort.Strings(names)
		if _, ok := item[names[0]]; !ok {
			return true
		}
	}
	for name, want := range owner {
		got, ok := item[name]
		if !ok || !tablecmp.Equal(got, want) {
			return false
		}
	}
	return true
}

// validate returns the ValidationException DynamoDB answers w with, alone:
// an item it refuses ([ValidateItem]) or a key with an empty value.
func validate(w replicate.Write) error {
	keys := make([]string, 0, len(w.Key))
	for k := range w.Key {
		keys = append(keys, k)
	}
	if w.Op == replicate.OpPut {
		return ValidateItem(w.Item, keys...)
	}
	return ValidateItem(w.Key, keys...)
}

// Items returns a copy of the table, by the KeyID of the write that stored
// each item.
func (m *MemWriter) Items() map[string]map[string]types.AttributeValue {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]map[string]types.AttributeValue, len(m.items))
	for _, v := range m.items {
		out[v.keyID] = v.item
	}
	return out
}

// Get returns the item stored under key (the key's attributes; its
// numbers in any spelling), nil if there is none.
func (m *MemWriter) Get(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items[normalKey(replicate.Write{Key: key})].item
}

// normalKey returns the identity of w's item: the KeyID of its key with
// every number in one spelling, as DynamoDB compares key numbers; w.KeyID
// when the write has no typed key.
func normalKey(w replicate.Write) string {
	if w.Key == nil {
		return w.KeyID
	}
	key := make(map[string]types.AttributeValue, len(w.Key))
	for name, v := range w.Key {
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			if r, ok := new(big.Rat).SetString(n.Value); ok {
				v = &types.AttributeValueMemberN{Value: r.RatString()}
			}
		}
		key[name] = v
	}
	id, ok := replicate.KeyID(key)
	if !ok {
		return w.KeyID
	}
	return id
}
