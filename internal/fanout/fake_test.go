package fanout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/ddbsync/ddbsync/internal/fanout"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// fakeSNS is a func-field fake of fanout.SNSAPI that records every call.
type fakeSNS struct {
	mu    sync.Mutex
	calls [][]snstypes.PublishBatchRequestEntry
	// answer decides each entry's fate: nil accepts it.
	answer func(call int, e snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry
	// callErr, if set, fails whole calls.
	callErr func(call int) error
}

func (f *fakeSNS) PublishBatch(_ context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, in.PublishBatchRequestEntries)
	f.mu.Unlock()
	if f.callErr != nil {
		if err := f.callErr(call); err != nil {
			return nil, err
		}
	}
	out := &sns.PublishBatchOutput{}
	for _, e := range in.PublishBatchRequestEntries {
		if f.answer != nil {
			if fail := f.answer(call, e); fail != nil {
				fail.Id = e.Id
				out.Failed = append(out.Failed, *fail)
				continue
			}
		}
		out.Successful = append(out.Successful, snstypes.PublishBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

// bodies returns the envelopes of every accepted call entry, in call order.
func (f *fakeSNS) envelopes() []fanout.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fanout.Envelope
	for _, call := range f.calls {
		for _, e := range call {
			env, err := fanout.DecodeEnvelope([]byte(aws.ToString(e.Message)))
			if err != nil {
				panic(err)
			}
			out = append(out, env)
		}
	}
	return out
}

// record returns a stream record of item pk=key at seq: a put of n, or a
// delete when n < 0.
func record(key string, seq int, n int) fanout.Record {
	keys := fmt.Sprintf(`{"pk":{"S":%q}}`, key)
	k, err := replicate.DecodeImage([]byte(keys))
	if err != nil {
		panic(err)
	}
	id, _ := replicate.KeyID(k)
	s := fmt.Sprintf("%021d", seq)
	c := replicate.Change{Seq: s, Key: k, KeyID: id, Op: replicate.OpDelete}
	env := fanout.Envelope{Event: fanout.EventRemove, Keys: json.RawMessage(keys), Seq: s, EventID: "ev" + s,
		StreamARN: "arn:aws:dynamodb:r:1:table/src/stream/x", TableARN: "arn:aws:dynamodb:r:1:table/src"}
	if n >= 0 {
		c.Op = replicate.OpPut
		c.NewImage = []byte(fmt.Sprintf(`{"pk":{"S":%q},"n":{"N":"%d"}}`, key, n))
		env.Event, env.NewImage = fanout.EventModify, c.NewImage
	}
	return fanout.Record{Change: c, Envelope: env}
}

// memGuard is an in-memory replicate.Writer with the stale-write rule of
// dynamo.SeqGuard: a write applies only if its Seq is newer than the item's.
type memGuard struct {
	mu    sync.Mutex
	items map[string]string // KeyID -> the item's n
	seqs  map[string]string
	fail  map[string]bool // KeyIDs whose writes fail
	stale int
}

func newMemGuard() *memGuard {
	return &memGuard{items: map[string]string{}, seqs: map[string]string{}, fail: map[string]bool{}}
}

func (m *memGuard) WriteBatch(_ context.Context, writes []replicate.Write) ([]error, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for i, w := range writes {
		if m.fail[w.KeyID] {
			if errs == nil {
				errs = make([]error, len(writes))
			}
			errs[i] = fmt.Errorf("injected failure")
			continue
		}
		if old, ok := m.seqs[w.KeyID]; ok && replicate.CompareSeq(old, w.Seq) >= 0 {
			m.stale++
			continue
		}
		m.seqs[w.KeyID] = w.Seq
		if w.Op == replicate.OpDelete {
			// Like the guard's tombstone: the item goes, its sequence number stays.
			delete(m.items, w.KeyID)
			continue
		}
		m.items[w.KeyID] = w.Item["n"].(*types.AttributeValueMemberN).Value
	}
	return errs, 0
}

// value returns the n attribute of key's item, "" if absent.
func (m *memGuard) value(key string) string {
	k, _ := replicate.DecodeImage([]byte(fmt.Sprintf(`{"pk":{"S":%q}}`, key)))
	id, _ := replicate.KeyID(k)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items[id]
}
