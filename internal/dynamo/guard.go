package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Limits and defaults of a [SeqGuard].
const (
	// SeqWidth is the width to which sequence numbers are zero-padded before
	// they are stored. Stream sequence numbers have up to 40 digits; 48
	// leaves room while keeping every stored value the same length.
	SeqWidth = 48
	// DefaultSeqAttribute names the attribute holding the sequence number of
	// the change an item was last written from.
	DefaultSeqAttribute = replattr.DefaultSeq
	// DefaultTombstoneRetention is how long a tombstone is kept: the 14 days
	// an SQS dead-letter queue can hold a message at most (counted from its
	// first enqueue) plus the 24 hours a stream record can be retried and
	// republished (replattr.DefaultTombstoneRetention).
	DefaultTombstoneRetention = replattr.DefaultTombstoneRetention
	// maxGuardedInFlight bounds the conditional writes one WriteBatch call
	// makes at once.
	maxGuardedInFlight = 8
)

// ErrSeqTooLong is returned by [PadSeq] for a sequence number of more than
// SeqWidth digits.
var ErrSeqTooLong = errors.New("sequence number too long")

// guardCondition makes a write succeed only for a newer change. #seq holds a
// zero-padded string of SeqWidth digits: for strings of equal length of
// decimal digits, DynamoDB's string order (UTF-8 bytes) is integer order, so
// the comparison is exact for any sequence number, beyond the 38 digits a
// DynamoDB number can hold.
const guardCondition = "attribute_not_exists(#seq) OR #seq < :seq"

var _ replicate.Writer = (*SeqGuard)(nil)

// SeqGuard is a [replicate.Writer] that writes each item alone and only if
// the change is newer than the one the item was last written from, as
// recorded in a sequence attribute. It is the stale-write guard of the
// message-queue path, where redelivery and replays can bring an older change
// after a newer one: a dead-letter queue redrive up to 14 days after the
// first enqueue, or a stream retry republished after the SNS FIFO
// five-minute deduplication window.
//
// # Puts
//
// A put stores the item plus the sequence attribute (a string of SeqWidth
// digits) with a PutItem conditioned on guardCondition. It replaces the
// whole item, a tombstone included.
//
// # Deletes leave tombstones
//
// A delete is a PutItem, under the same condition, of a tombstone: the key
// attributes, the sequence attribute, the Deleted attribute (BOOL true) and
// the Expires attribute (epoch seconds, now plus the retention) for
// DynamoDB TTL. A plain DeleteItem would leave nothing to compare with, so
// a redelivered put older than the delete would recreate the item for
// good; the tombstone makes it stale like any older change. It is kept for
// GuardOptions.TombstoneRetention (default DefaultTombstoneRetention), which
// must cover the longest redelivery; TTL then removes it, typically within
// a few days of expiry
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html).
//
// Readers of the target see tombstones: they must filter them out
// (attribute_not_exists(_ddbsync_deleted), or the configured name) or read
// through replattr.Names.Visible, and TTL must be enabled on the Expires
// attribute. A table has one TTL attribute: if the target already has one,
// name it as Expires.
//
// # Deletes with an owner
//
// A delete with an Owner (a delete a rule set made, see
// replicate.Write.Owner) writes its tombstone only if, besides the
// condition above, the item at the key is none, a tombstone (it lacks the
// first owner attribute, in name order) or holds every owner attribute
// with an equal value; an item of another source item is kept.
//
// A write rejected by the condition (ConditionalCheckFailedException) is
// stale, or another source item's: it is skipped and counts as success.
type SeqGuard struct {
	t         *Table
	names     replattr.Names
	retention time.Duration
	now       func() time.Time
}

// GuardOptions configures a [SeqGuard]; zero fields take the defaults.
type GuardOptions struct {
	// TombstoneRetention is how long a tombstone is kept before TTL may
	// remove it (default DefaultTombstoneRetention).
	TombstoneRetention time.Duration
	// Now is the clock of tombstone expiry times (default time.Now).
	Now func() time.Time
}

// NewSeqGuard returns a SeqGuard writing through t (its API, table and
// retry settings), keeping its attributes under names (empty names take the
// replattr defaults).
func NewSeqGuard(t *Table, names replattr.Names, opts GuardOptions) *SeqGuard {
	g := &SeqGuard{t: t, names: names.WithDefaults(), retention: opts.TombstoneRetention, now: opts.Now}
	if g.retention <= 0 {
		g.retention = DefaultTombstoneRetention
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g
}

// Names returns the attribute names, defaults applied.
func (g *SeqGuard) Names() replattr.Names { return g.names }

// PadSeq returns seq, a valid sequence number, zero-padded to SeqWidth
// digits. It returns ErrSeqTooLong if seq has more significant digits.
func PadSeq(seq string) (string, error) {
	if err := replicate.ValidateSeq(seq); err != nil {
		return "", err
	}
	seq = strings.TrimLeft(seq, "0")
	if len(seq) > SeqWidth {
		return "", fmt.Errorf("%w: %d digits, at most %d", ErrSeqTooLong, len(seq), SeqWidth)
	}
	return strings.Repeat("0", SeqWidth-len(seq)) + seq, nil
}

// WriteBatch implements replicate.Writer with conditional PutItem calls (of
// the item, or of a tombstone for a delete), at most maxGuardedInFlight at
// once. Each write must carry its change's Seq.
func (g *SeqGuard) WriteBatch(ctx context.Context, writes []replicate.Write) (errs []error, retries int) {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, maxGuardedInFlight)
	)
	for i := range writes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, err := g.writeOne(ctx, writes[i])
			mu.Lock()
			defer mu.Unlock()
			retries += n
			if err != nil {
				errs = setErr(errs, len(writes), i, err)
			}
		})
	}
	wg.Wait()
	return errs, retries
}

// writeOne makes one conditional write, retrying like Table.WriteBatch.
func (g *SeqGuard) writeOne(ctx context.Context, w replicate.Write) (retries int, err error) {
	seq, err := PadSeq(w.Seq)
	if err != nil {
		return 0, fmt.Errorf("guard %s: %w", w.Op, err)
	}
	item := g.item(w, seq)
	names := map[string]string{"#seq": g.names.Seq}
	values := map[string]types.AttributeValue{":seq": &types.AttributeValueMemberS{Value: seq}}
	cond := guardCondition
	if w.Op == replicate.OpDelete && w.Owner != nil {
		cond = guardOwnerCondition(w.Owner, names, values)
	}
	return g.t.tryOne(ctx, fmt.Sprintf("guarded %s item", w.Op), func() error {
		_, err := g.t.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(g.t.name), Item: item, ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		if IsConditionalCheckFailed(err) {
			return nil // stale, or another source item's: skipped
		}
		return err
	})
}

// guardOwnerCondition returns the condition of a guarded delete with an
// Owner, adding its placeholders to names and values: guardCondition, and
// the item at the key holds no first owner attribute (there is none, or
// it is a tombstone) or holds the whole owner (ownerCondition). It is
// spelled as ORs of ANDs, without parentheses.
func guardOwnerCondition(owner map[string]types.AttributeValue, names map[string]string, values map[string]types.AttributeValue) string {
	owned := ownerCondition(owner, names, values)
	var terms []string
	for _, s := range []string{"attribute_not_exists(#seq)", "#seq < :seq"} {
		terms = append(terms, s+" AND attribute_not_exists(#o0)", s+" AND "+owned)
	}
	return strings.Join(terms, " OR ")
}

// item returns what w writes, seq being its padded sequence number: the
// item plus the sequence attribute for a put, a tombstone for a delete.
func (g *SeqGuard) item(w replicate.Write, seq string) map[string]types.AttributeValue {
	if w.Op != replicate.OpPut {
		return g.names.Tombstone(w.Key, seq, g.now().Add(g.retention))
	}
	item := make(map[string]types.AttributeValue, len(w.Item)+1)
	for k, v := range w.Item {
		item[k] = v
	}
	item[g.names.Seq] = &types.AttributeValueMemberS{Value: seq}
	return item
}

// IsConditionalCheckFailed reports whether err is DynamoDB's
// ConditionalCheckFailedException.
func IsConditionalCheckFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
