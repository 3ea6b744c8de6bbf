package tablesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Repair defaults and limits.
const (
	// DefaultRepairRounds is how many read-compare-write rounds one key
	// gets before Repair gives up on an item that keeps changing.
	DefaultRepairRounds = 10
	// DefaultRepairConcurrency is how many keys [Repairer.RepairAll]
	// repairs at once.
	DefaultRepairConcurrency = 16
	// maxConditionBytes keeps a condition expression under DynamoDB's
	// 4 KB limit for expressions
	// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters).
	maxConditionBytes = 4000
)

// Errors of a repair.
var (
	// ErrStillChanging is returned for an item that changed under every
	// repair round. The stream carries those changes, so the replicator
	// brings it up to date; verify again once writes have calmed down.
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
	// ActionDelete: the target item was deleted, the source has none.
	ActionDelete Action = "delete"
)

// RepairOptions configures a [Repairer]; zero fields take the defaults.
type RepairOptions struct {
	// DryRun reads and compares but writes nothing: Repair returns the
	// action it would take.
	DryRun bool
	// Rounds bounds the read-compare-write rounds per key (default
	// DefaultRepairRounds).
	Rounds int
	// MaxWCU limits the write capacity units consumed per second; 0 means
	// no limit.
	MaxWCU float64
	// Retry shapes the retries of throttled or failed reads and writes.
	Retry RetryOptions
	// Logger receives one line per failed key, with no item values
	// (default: discard).
	Logger *slog.Logger
}

// RepairStats counts what a [Repairer] did.
type RepairStats struct {
	// Puts and Deletes count the target writes made (or planned, in a dry run).
	Puts, Deletes int64
	// Unchanged counts keys already equal on both sides when re-read.
	Unchanged int64
	// Conflicts counts conditional writes refused because the target item
	// changed between the read and the write (each is read again).
	Conflicts int64
	// Failed counts keys not repaired (errors, or ErrStillChanging).
	Failed int64
}

// Repairer makes target items equal to the source's, one key at a time,
// safely while replication is live.
//
// For each key it reads the target item, then the source item, both with
// ConsistentRead. If they differ it writes the source's value to the
// target (PutItem, or DeleteItem when the source has no item) with a
// condition that the target item is still exactly as read
// (attribute_not_exists when it had none). Then it reads both again and
// repeats until they are equal. A failed condition means the replicator
// (or anyone) wrote the item meanwhile; the round starts over.
//
// The guarantee: a repair write never replaces a target value other than
// the one it read, and the target value was read before the source value,
// so the value written is at least as new as the value replaced; and a key
// counts as repaired only once a later consistent read found both tables
// equal. Changes made to the source after that are in the stream, and the
// replicator applies them.
type Repairer struct {
	src      ItemReader
	srcTable string
	dst      ItemWriter
	dstTable string
	opts     RepairOptions
	wcu      *rateLimiter

	puts, deletes, unchanged, conflicts, failed atomic.Int64
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
	opts.Retry = opts.Retry.withDefaults()
	return &Repairer{src: src, srcTable: srcTable, dst: dst, dstTable: dstTable, opts: opts, wcu: newRateLimiter(opts.MaxWCU)}
}

// Stats returns the counts so far.
func (r *Repairer) Stats() RepairStats {
	return RepairStats{
		Puts: r.puts.Load(), Deletes: r.deletes.Load(), Unchanged: r.unchanged.Load(),
		Conflicts: r.conflicts.Load(), Failed: r.failed.Load(),
	}
}

// Repair makes the target item with this key equal to the source item
// and returns the last write it made (ActionNone if none was needed). It
// returns ErrStillChanging (wrapped) when the item changed in every round.
func (r *Repairer) Repair(ctx context.Context, key Item) (Action, error) {
	act, err := r.repair(ctx, key)
	switch {
	case err != nil:
		r.failed.Add(1)
		r.opts.Logger.Warn("repair failed", slog.String(keyTarget, r.dstTable), slog.String(keyError, err.Error()),
			slog.String(keyClass, dynamo.ErrorClass(err)))
	case act == ActionPut:
		r.puts.Add(1)
	case act == ActionDelete:
		r.deletes.Add(1)
	default:
		r.unchanged.Add(1)
	}
	return act, err
}

func (r *Repairer) repair(ctx context.Context, key Item) (Action, error) {
	if len(key) == 0 {
		return ActionNone, fmt.Errorf("repair: %w: empty key", ErrBadKey)
	}
	done := ActionNone
	for round := 1; ; round++ {
		// The target first: the source value read after it is at least as
		// new as anything the replicator had written to the target.
		dst, err := r.get(ctx, r.dst, r.dstTable, key)
		if err != nil {
			return done, err
		}
		src, err := r.get(ctx, r.src, r.srcTable, key)
		if err != nil {
			return done, err
		}
		if sameItem(src, dst) {
			return done, nil
		}
		act := ActionPut
		if src == nil {
			act = ActionDelete
		}
		if r.opts.DryRun {
			return act, nil
		}
		if round > r.opts.Rounds {
			return done, fmt.Errorf("repair item in %s: %w (%d rounds)", r.dstTable, ErrStillChanging, r.opts.Rounds)
		}
		err = r.write(ctx, key, src, dst)
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
	err := r.opts.Retry.do(ctx, func() (err error) {
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

// write puts src (or deletes key when src is nil) on the condition that
// the target item is still dst. Throttling is retried, never dropped.
func (r *Repairer) write(ctx context.Context, key, src, dst Item) error {
	cond, names, values := condition(key, dst)
	units := 1.0
	if src != nil {
		units = writeUnits(src)
	}
	if dst != nil {
		units = max(units, writeUnits(dst))
	}
	if err := r.wcu.wait(ctx, units); err != nil {
		return err
	}
	return r.opts.Retry.do(ctx, func() error {
		var err error
		if src != nil {
			_, err = r.dst.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(r.dstTable), Item: src, ConditionExpression: aws.String(cond),
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
// was absent, else attribute_exists and an equality for each non-key
// attribute, in name order, as many as fit in maxConditionBytes.
// DynamoDB compares numbers as numbers and sets as sets.
func condition(key, item Item) (string, map[string]string, map[string]types.AttributeValue) {
	keyNames := sortedNames(key)
	names := map[string]string{"#k": keyNames[0]}
	if item == nil {
		return "attribute_not_exists(#k)", names, nil
	}
	var b strings.Builder
	b.WriteString("attribute_exists(#k)")
	values := map[string]types.AttributeValue{}
	for i, name := range sortedNames(item) {
		if _, isKey := key[name]; isKey {
			continue
		}
		n, v := "#a"+strconv.Itoa(i), ":v"+strconv.Itoa(i)
		clause := " AND " + n + " = " + v
		if b.Len()+len(clause) > maxConditionBytes {
			break
		}
		b.WriteString(clause)
		names[n], values[v] = name, item[name]
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
		_, err := r.Repair(ctx, d.Key)
		if err != nil && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
}
