package tablesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/itemsize"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Repair defaults and limits.
const (
	// DefaultRepairRounds is how many writes one key gets before Repair
	// gives up on an item that keeps changing.
	DefaultRepairRounds = 10
	// DefaultRepairConcurrency is how many keys [Repairer.RepairAll]
	// repairs at once.
	DefaultRepairConcurrency = 16
	// maxConditionBytes keeps a condition expression under DynamoDB's
	// 4 KB limit for expressions
	// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters).
	maxConditionBytes = 4000
	// maxConditionClauses keeps a condition under DynamoDB's 300 operators
	// and functions per expression: each clause is an AND and an =.
	maxConditionClauses = 120
	// maxConditionValueBytes bounds the attribute values a condition
	// carries, so that a large item does not double the request.
	maxConditionValueBytes = 64 << 10
	// maxFailedKeys bounds the keys [Repairer.FailedKeys] keeps.
	maxFailedKeys = 10000
	// finalCheckTimeout bounds the re-read that checks a key's last write
	// after the repair was stopped.
	finalCheckTimeout = 10 * time.Second
)

// Errors of a repair.
var (
	// ErrStillChanging is returned for an item that still differed after
	// every repair round. The target item may then be older than the
	// source's: a repair write can replace a value replicated after the
	// repair read it (see [Repairer]). Repair the key again once writes
	// have calmed down.
	ErrStillChanging = errors.New("item kept changing during repair")
)

// Action is what a repair did, or would do in a dry run, to a target item.
type Action string

// Actions.
const (
	// ActionNone: the target already equals the source.
	ActionNone Action = "none"
	// ActionPut: the target item was replaced by the source item.
	ActionPut Action = "put"
	// ActionDelete: the target item was deleted (on a queue-path target:
	// replaced by a tombstone), the source has none.
	ActionDelete Action = "delete"
)

// RepairOptions configures a [Repairer]; zero fields take the defaults.
type RepairOptions struct {
	// DryRun reads and compares but writes nothing: Repair returns the
	// action it would take.
	DryRun bool
	// Rounds bounds the writes per key (default DefaultRepairRounds).
	Rounds int
	// MaxWCU limits the write capacity units consumed per second; 0 means
	// no limit.
	MaxWCU float64
	// Retry shapes the retries of throttled or failed reads and writes.
	Retry RetryOptions
	// Logger receives one line per failed key, with no item values
	// (default: discard).
	Logger *slog.Logger
	// Attrs names the queue path's attributes in target items (defaults:
	// package replattr's).
	Attrs replattr.Names
	// TombstoneRetention is how long a tombstone written by a repair
	// delete on a queue-path target lives (default
	// replattr.DefaultTombstoneRetention).
	TombstoneRetention time.Duration
	// Now is the clock of tombstone expiries (default time.Now).
	Now func() time.Time
	// Rules is the rule set the copy is made with (see the package
	// documentation, "Repair with rules"); nil, or the identity rule set,
	// repairs items as they are.
	Rules *rules.RuleSet
	// SourceKeys names the source table's key attributes; required with
	// Rules (to recover a target item's source key).
	SourceKeys []string
}

// RepairStats counts what a [Repairer] did.
type RepairStats struct {
	// Puts and Deletes count the keys written (or planned, in a dry run).
	Puts, Deletes int64
	// Unchanged counts keys already equal on both sides when re-read.
	Unchanged int64
	// Conflicts counts conditional writes refused because the target item
	// changed between the read and the write (each is read again).
	Conflicts int64
	// Failed counts keys not repaired (errors, interruption, or
	// ErrStillChanging).
	Failed int64
}

// Repairer makes target items equal to the source's, one key at a time,
// safely while replication is live.
//
// For each key it reads the target item, then the source item, both with
// ConsistentRead, and compares them as a reader of the copy sees the
// target ([replattr.Names.Visible]). If they differ it writes the source's
// value to the target (PutItem, or DeleteItem when the source has no item)
// with a condition that the target item is still as read, then reads both
// again, and repeats until a read finds them equal or Rounds writes were
// made.
//
// The condition: attribute_not_exists of the key when the target had no
// item; on a queue-path target (the item carries the sequence attribute)
// that the sequence attribute is unchanged, which every replicated write
// changes; else that the attributes read are unchanged, as many as
// DynamoDB's expression limits allow. A failed condition means the
// replicator wrote the item meanwhile: the round starts over.
//
// On a queue-path target the guard keeps its meaning: a repair put keeps
// the item's stored sequence number (so a redelivered older message is
// still refused), and a repair delete writes a tombstone with it (so such
// a message cannot recreate the item). An item the target lacks entirely
// is created without one and accepts any later message of its key.
//
// The guarantee: a key counts as repaired only when a consistent read of
// the target, made after the repair's last write, and then one of the
// source found them equal. DynamoDB cannot condition a write on attributes
// the repair never saw, so on a table-path target a value replicated
// between the reads and the write (an added attribute, or any change of an
// item too large to compare whole) can be overwritten by the older source
// read; the next read sees that and the key is written again from the
// source. A key still different after Rounds writes, or left when the
// context ended, is returned as an error, counted in Failed and listed by
// FailedKeys: its target item may be older than the source's until it is
// repaired again.
type Repairer struct {
	src      ItemReader
	srcTable string
	dst      ItemWriter
	dstTable string
	opts     RepairOptions
	wcu      *rateLimiter

	puts, deletes, unchanged, conflicts, failed atomic.Int64

	mu         sync.Mutex
	failedKeys []Item
}

// NewRepairer returns a Repairer copying items from srcTable (read through
// src) to dstTable (through dst).
func NewRepairer(src ItemReader, srcTable string, dst ItemWriter, dstTable string, opts RepairOptions) *Repairer {
	if opts.Rounds <= 0 {
		opts.Rounds = DefaultRepairRounds
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TombstoneRetention <= 0 {
		opts.TombstoneRetention = replattr.DefaultTombstoneRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Attrs = opts.Attrs.WithDefaults()
	opts.Retry = opts.Retry.Or(dynamo.DefaultRetry)
	return &Repairer{src: src, srcTable: srcTable, dst: dst, dstTable: dstTable, opts: opts, wcu: newRateLimiter(opts.MaxWCU)}
}

// Stats returns the counts so far.
func (r *Repairer) Stats() RepairStats {
	return RepairStats{
		Puts: r.puts.Load(), Deletes: r.deletes.Load(), Unchanged: r.unchanged.Load(),
		Conflicts: r.conflicts.Load(), Failed: r.failed.Load(),
	}
}

// FailedKeys returns the keys not repaired so far, in the order they
// failed (the first maxFailedKeys; Stats().Failed counts them all).
func (r *Repairer) FailedKeys() []Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failedKeys)
}

// Repair makes the target item with this key equal to the source item
// and returns the last write it made (ActionNone if none was needed). It
// returns ErrStillChanging (wrapped) when the item still differed after
// every round, and the context's error when stopped before the item was
// seen equal.
//
// With rules, key is a target key (see [Repairer.RepairTarget]).
func (r *Repairer) Repair(ctx context.Context, key Item) (Action, error) {
	if !r.opts.Rules.IsIdentity() {
		return r.RepairTarget(ctx, key, nil, "")
	}
	return r.RepairSeq(ctx, key, "")
}

// RepairSeq is Repair for a key whose changes up to the stream sequence
// number seq are known to be in the source's current value (redrive knows
// that of the records of a failed batch): on a queue-path target, the item
// or tombstone it writes carries the larger of seq and the stored sequence
// number, so that no redelivered message older than seq can undo it. seq
// may be "".
func (r *Repairer) RepairSeq(ctx context.Context, key Item, seq string) (Action, error) {
	var padded string
	if seq != "" {
		p, err := dynamo.PadSeq(seq)
		if err != nil {
			return ActionNone, fmt.Errorf("repair: sequence number: %w", err)
		}
		padded = p
	}
	act, err := r.repair(ctx, key, padded)
	r.record(ctx, key, act, err)
	return act, err
}

// record counts one key's outcome, and keeps and logs a failed key.
func (r *Repairer) record(ctx context.Context, key Item, act Action, err error) {
	switch {
	case err != nil:
		r.failed.Add(1)
		r.mu.Lock()
		if len(r.failedKeys) < maxFailedKeys {
			r.failedKeys = append(r.failedKeys, key)
		}
		r.mu.Unlock()
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelDebug // stopped: FailedKeys names the keys, one warning each would flood the terminal
		}
		r.opts.Logger.Log(ctx, level, "repair failed", slog.String(keyTarget, r.dstTable), slog.String(keyError, err.Error()),
			slog.String(keyClass, dynamo.ErrorClass(err)))
	case act == ActionPut:
		r.puts.Add(1)
	case act == ActionDelete:
		r.deletes.Add(1)
	default:
		r.unchanged.Add(1)
	}
}

func (r *Repairer) repair(ctx context.Context, key Item, minSeq string) (Action, error) {
	if len(key) == 0 {
		return ActionNone, fmt.Errorf("repair: %w: empty key", ErrBadKey)
	}
	done := ActionNone
	for round := 1; ; round++ {
		rctx := ctx
		if done != ActionNone && ctx.Err() != nil {
			// Stopped after a write: check it before giving up the key.
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalCheckTimeout)
			defer cancel()
			rctx = c
		}
		// The target first: the source value read after it is at least as
		// new as anything the replicator had written to the target.
		dst, err := r.get(rctx, r.dst, r.dstTable, key)
		if err != nil {
			return done, err
		}
		src, err := r.get(rctx, r.src, r.srcTable, key)
		if err != nil {
			return done, err
		}
		if sameItem(src, r.opts.Attrs.Visible(dst)) {
			return done, nil
		}
		if err := ctx.Err(); err != nil {
			return done, fmt.Errorf("repair item in %s: stopped before the target item was equal to the source: %w", r.dstTable, context.Cause(ctx))
		}
		act := ActionPut
		if src == nil {
			act = ActionDelete
		}
		if r.opts.DryRun {
			return act, nil
		}
		if round > r.opts.Rounds {
			return done, fmt.Errorf("repair item in %s: %w after %d writes: the target item may be older than the source's; repair it again once writes calm down",
				r.dstTable, ErrStillChanging, r.opts.Rounds)
		}
		err = r.write(ctx, key, src, dst, minSeq)
		var conflict *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &conflict):
			r.conflicts.Add(1)
		case err != nil:
			return done, err
		default:
			done = act
		}
	}
}

// get reads one item with ConsistentRead; nil if there is none.
func (r *Repairer) get(ctx context.Context, api ItemReader, table string, key Item) (Item, error) {
	var out *dynamodb.GetItemOutput
	err := dynamo.Retry(ctx, r.opts.Retry, func() (err error) {
		out, err = api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get item from %s: %w", table, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// write makes the target item with key equal to src (nil: absent) on the
// condition that it is still dst as read. On a queue-path target it keeps
// the larger of the stored sequence number and minSeq (padded, or "").
// Throttling is retried, never dropped.
func (r *Repairer) write(ctx context.Context, key, src, dst Item, minSeq string) error {
	seq := r.opts.Attrs.SeqOf(dst) // "" unless a queue-path target's item
	if seq != "" && minSeq > seq { // equal widths: string order is integer order
		seq = minSeq
	}
	put := src
	switch {
	case src != nil && seq != "":
		put = maps.Clone(src)
		put[r.opts.Attrs.Seq] = &types.AttributeValueMemberS{Value: seq}
	case src == nil && seq != "":
		put = r.opts.Attrs.Tombstone(key, seq, r.opts.Now().Add(r.opts.TombstoneRetention))
	}
	cond, names, values := condition(key, dst, r.opts.Attrs)
	units := 1.0
	if put != nil {
		units = writeUnits(put)
	}
	if dst != nil {
		units = max(units, writeUnits(dst))
	}
	if err := r.wcu.wait(ctx, units); err != nil {
		return err
	}
	return dynamo.Retry(ctx, r.opts.Retry, func() error {
		var err error
		if put != nil {
			_, err = r.dst.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(r.dstTable), Item: put, ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			})
			if err != nil {
				err = fmt.Errorf("put item in %s: %w", r.dstTable, err)
			}
		} else {
			_, err = r.dst.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: aws.String(r.dstTable), Key: key, ConditionExpression: aws.String(cond),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			})
			if err != nil {
				err = fmt.Errorf("delete item in %s: %w", r.dstTable, err)
			}
		}
		return err
	})
}

// condition returns a condition expression that holds while the target
// item is still as read: attribute_not_exists of a key attribute when it
// was absent, else attribute_exists, then for the queue path's sequence
// attribute and tombstone marker their equality if the item has them and
// attribute_not_exists if not (so that a guarded write made meanwhile is
// never replaced by an unguarded one), then equality of each other
// non-key attribute in name order, as many as fit DynamoDB's limits
// (maxConditionBytes, maxConditionClauses, maxConditionValueBytes; an
// attribute too large to fit is skipped). DynamoDB compares numbers as
// numbers and sets as sets.
func condition(key, item Item, attrs replattr.Names) (string, map[string]string, map[string]types.AttributeValue) {
	attrs = attrs.WithDefaults()
	keyNames := sortedNames(key)
	names := map[string]string{"#k": keyNames[0]}
	if item == nil {
		return "attribute_not_exists(#k)", names, nil
	}
	var b strings.Builder
	b.WriteString("attribute_exists(#k)")
	values := map[string]types.AttributeValue{}
	clauses, valueBytes := 0, 0
	add := func(i int, name string) {
		if clauses >= maxConditionClauses {
			return
		}
		n, v := "#a"+strconv.Itoa(i), ":v"+strconv.Itoa(i)
		clause := " AND " + n + " = " + v
		size := len(name) + itemsize.Value(item[name])
		if b.Len()+len(clause) > maxConditionBytes || valueBytes+size > maxConditionValueBytes {
			return
		}
		b.WriteString(clause)
		names[n], values[v] = name, item[name]
		clauses++
		valueBytes += size
	}
	// First the queue path's attributes: on a queue-path target they alone
	// suffice, and elsewhere their absence is cheap to check.
	for i, name := range []string{attrs.Seq, attrs.Deleted} {
		if _, ok := item[name]; ok {
			add(len(item)+i, name)
			continue
		}
		n := "#r" + strconv.Itoa(i)
		b.WriteString(" AND attribute_not_exists(" + n + ")")
		names[n] = name
		clauses++
	}
	for i, name := range sortedNames(item) {
		if _, isKey := key[name]; isKey || name == attrs.Seq || name == attrs.Deleted {
			continue
		}
		add(i, name)
	}
	if len(values) == 0 {
		values = nil
	}
	return b.String(), names, values
}

func sortedNames(item Item) []string {
	names := make([]string, 0, len(item))
	for name := range item {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// sameItem reports whether two reads hold the same item (or both none).
func sameItem(a, b Item) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return tablecmp.EqualItems(a, b)
}

// RepairAll repairs keys, concurrency at a time (default
// DefaultRepairConcurrency), and calls report (if not nil, possibly from
// several goroutines) with each key's outcome. It stops early only when
// ctx ends; failed keys are counted in Stats. It returns ctx's error, if
// any.
func (r *Repairer) RepairAll(ctx context.Context, keys <-chan Item, concurrency int, report func(key Item, act Action, err error)) error {
	if concurrency <= 0 {
		concurrency = DefaultRepairConcurrency
	}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for key := range keys {
				if ctx.Err() != nil {
					continue // drain
				}
				act, err := r.Repair(ctx, key)
				if report != nil {
					report(key, act, err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// RepairEach returns an OnDifference for [Verify] (verify --repair) that
// passes each difference to next, if not nil, and then repairs its key. A
// key that cannot be repaired is counted in the Repairer's stats and
// logged, and Verify goes on; only the end of ctx stops it.
func RepairEach(r *Repairer, next func(context.Context, Difference) error) func(context.Context, Difference) error {
	return func(ctx context.Context, d Difference) error {
		if next != nil {
			if err := next(ctx, d); err != nil {
				return err
			}
		}
		var err error
		switch {
		case r.opts.Rules.IsIdentity():
			_, err = r.Repair(ctx, d.Key)
		case d.Kind == Collision || d.Kind == RuleFailed:
			return nil // the rule set must change; Verify counted it
		default:
			_, err = r.RepairTarget(ctx, d.Key, d.SourceKey, "")
		}
		if err != nil && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
}
