package redrive

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Errors of a redrive.
var (
	// ErrExpired is returned when some or all of the batch's records are
	// no longer in the stream (24-hour retention, or the stream is gone).
	// Their keys are unknown: only `ddbsync verify --repair` finds them.
	ErrExpired = errors.New("records no longer in the stream")
	// ErrKeysFailed is returned when some keys of the batch could not be
	// repaired; [Result.Failed] names them.
	ErrKeysFailed = errors.New("keys not repaired")
	// ErrBadFailureRecord is returned for a failure record without a
	// usable shard, sequence range or stream ARN.
	ErrBadFailureRecord = errors.New("unusable failure record")
)

// Repairer brings one target item to the source's current value, as
// *tablesync.Repairer does: it returns the write made (or, in a dry run,
// the one it would make), and an error when the item is not equal to the
// source's. seq is the newest sequence number of the key's records in the
// batch: on a queue-path target, what the repair writes carries at least
// it, so that no redelivered older message undoes the repair.
//
// With rules ([Options].Rules), RepairSource is called instead: it
// repairs every target key the source key may have a copy at, also
// included (the target keys of the records' old and new images).
type Repairer interface {
	RepairSeq(ctx context.Context, key tablesync.Item, seq string) (tablesync.Action, error)
	RepairSource(ctx context.Context, key tablesync.Item, seq string, also ...tablesync.Item) (tablesync.Action, error)
}

var _ Repairer = (*tablesync.Repairer)(nil)

// Options configures [Batch]; zero fields take the defaults.
type Options struct {
	// Retry shapes the retries of Streams API calls (default: tablesync's).
	Retry tablesync.RetryOptions
	// Rules is the rule set the copy is made with (nil: none). With it,
	// the records' keys and images go through the rules to the target
	// keys to repair: the key each image maps to (the new one and, for a
	// re-key or an item that left the filter, the old one, deleted if
	// nothing maps there any more), with the Repairer's RepairSource. The
	// Repairer must have the same rules.
	Rules *rules.RuleSet
}

// KeyOutcome is what the repair of one key did, or would do in a dry run.
type KeyOutcome struct {
	// Key holds the key attributes only.
	Key tablesync.Item
	// Action is the write made (or planned); ActionNone if the target was
	// already equal.
	Action tablesync.Action
	// Err is set when the key was not repaired.
	Err error
}

// Result says what [Batch] did with one failed batch.
type Result struct {
	// Records counts the records read back from the stream.
	Records int
	// Expired is set when some or all records had left the stream.
	Expired bool
	// Keys holds the outcome of each distinct key of the records, in
	// stream order of their first record.
	Keys []KeyOutcome
}

// Failed returns the keys not repaired.
func (r Result) Failed() []KeyOutcome {
	var out []KeyOutcome
	for _, k := range r.Keys {
		if k.Err != nil {
			out = append(out, k)
		}
	}
	return out
}

// Count returns how many keys were repaired with act (and without error).
func (r Result) Count(act tablesync.Action) int {
	n := 0
	for _, k := range r.Keys {
		if k.Err == nil && k.Action == act {
			n++
		}
	}
	return n
}

// Batch redrives one failed batch, located by its on-failure record's
// DDBStreamBatchInfo: it reads the records from startSequenceNumber to
// endSequenceNumber back from the stream (GetShardIterator
// AT_SEQUENCE_NUMBER) and repairs each of their distinct keys with rep,
// going on past keys that fail. It writes no stream image.
//
// It returns nil only when every record was read and every key repaired:
// the caller may then remove the failure record. Otherwise the error
// wraps ErrKeysFailed (see Result.Failed), ErrExpired (the keys read were
// still repaired), both, ErrBadFailureRecord, or the error of reading the
// stream (then no key was touched).
func Batch(ctx context.Context, streams StreamReader, rep Repairer, batch streampoll.BatchInfo, opts Options) (Result, error) {
	if batch.ShardID == "" || batch.StreamARN == "" || replicate.ValidateSeq(batch.StartSequenceNumber) != nil ||
		replicate.ValidateSeq(batch.EndSequenceNumber) != nil || replicate.CompareSeq(batch.StartSequenceNumber, batch.EndSequenceNumber) > 0 {
		return Result{}, fmt.Errorf("%w: need shardId, streamArn and startSequenceNumber <= endSequenceNumber", ErrBadFailureRecord)
	}
	r := &rangeReader{api: streams, batch: batch, retry: opts.Retry.Or(dynamo.DefaultRetry)}
	recs, err := r.read(ctx)
	res := Result{Records: len(recs), Expired: r.expired}
	if err != nil {
		return res, err
	}
	if len(recs) == 0 {
		return res, fmt.Errorf("redrive shard %s from %s: %w; run `ddbsync verify --repair` to find and fix the affected items",
			batch.ShardID, batch.StartSequenceNumber, ErrExpired)
	}
	keys, seqs, also, ttlOnly, err := recordKeys(recs, opts.Rules)
	if err != nil {
		return res, err
	}
	failed := 0
	for i, key := range keys {
		var act tablesync.Action
		switch {
		case ttlOnly[i] && opts.Rules != nil && opts.Rules.TTL == rules.TTLSkip:
			// The replicator skips these records: the copy keeps the
			// expired item, which a repair from the source would delete.
			act, err = tablesync.ActionNone, nil
		case opts.Rules.IsIdentity():
			act, err = rep.RepairSeq(ctx, key, seqs[i])
		default:
			act, err = rep.RepairSource(ctx, key, seqs[i], also[i]...)
		}
		if err != nil {
			failed++
		}
		res.Keys = append(res.Keys, KeyOutcome{Key: key, Action: act, Err: err})
	}
	var errs []error
	if failed > 0 {
		errs = append(errs, fmt.Errorf("redrive shard %s: %w: %d of %d", batch.ShardID, ErrKeysFailed, failed, len(keys)))
	}
	if r.expired {
		errs = append(errs, fmt.Errorf("redrive shard %s: %d records read, but those before %s %w; run `ddbsync verify --repair` to find and fix the affected items",
			batch.ShardID, len(recs), aws.ToString(recs[0].Dynamodb.SequenceNumber), ErrExpired))
	}
	return res, errors.Join(errs...)
}

// recordKeys returns the distinct keys of recs, in first-seen order, and
// for each the sequence number of its last record (recs are in stream
// order), with rules the target keys its records' images map to (filters
// aside: a copy of an image that did not pass them is found too), and
// whether all its records are TTL deletes.
func recordKeys(recs []streamtypes.Record, rs *rules.RuleSet) ([]tablesync.Item, []string, [][]tablesync.Item, []bool, error) {
	index := map[string]int{}
	var keys []tablesync.Item
	var seqs []string
	var also [][]tablesync.Item
	var ttlOnly []bool
	for _, rec := range recs {
		seq := aws.ToString(rec.Dynamodb.SequenceNumber)
		key, err := attributevalue.FromDynamoDBStreamsMap(rec.Dynamodb.Keys)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("convert record keys: %w", err)
		}
		id, ok := replicate.KeyID(key)
		if !ok {
			return nil, nil, nil, nil, fmt.Errorf("record %s: %w", seq, tablesync.ErrBadKey)
		}
		i, dup := index[id]
		if dup {
			seqs[i] = seq
		} else {
			i = len(keys)
			index[id] = i
			keys = append(keys, key)
			seqs = append(seqs, seq)
			also = append(also, nil)
			ttlOnly = append(ttlOnly, true)
		}
		ttlOnly[i] = ttlOnly[i] && isTTLRemove(rec)
		if rs.IsIdentity() {
			continue
		}
		for _, img := range []map[string]streamtypes.AttributeValue{rec.Dynamodb.OldImage, rec.Dynamodb.NewImage} {
			if img == nil {
				continue
			}
			item, err := attributevalue.FromDynamoDBStreamsMap(img)
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("convert record %s image: %w", seq, err)
			}
			// An image the rules fail on has no target key: the source's
			// current value decides (RepairSource reads it).
			if tk, err := rs.UnfilteredKey(item, key); err == nil {
				also[i] = append(also[i], tk)
			}
		}
	}
	return keys, seqs, also, ttlOnly, nil
}

// isTTLRemove reports whether rec is the REMOVE of an item the source's
// TTL expired ([rules.Identity.IsTTL]).
func isTTLRemove(rec streamtypes.Record) bool {
	if rec.EventName != streamtypes.OperationTypeRemove || rec.UserIdentity == nil {
		return false
	}
	id := rules.Identity{Type: aws.ToString(rec.UserIdentity.Type), PrincipalID: aws.ToString(rec.UserIdentity.PrincipalId)}
	return id.IsTTL()
}
