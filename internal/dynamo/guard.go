package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Limits of a [SeqGuard].
const (
	// SeqWidth is the width to which sequence numbers are zero-padded before
	// they are stored. Stream sequence numbers have up to 40 digits; 48
	// leaves room while keeping every stored value the same length.
	SeqWidth = 48
	// DefaultSeqAttribute names the attribute holding the sequence number of
	// the change an item was last written from.
	DefaultSeqAttribute = replattr.DefaultSeq
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
// after a newer one.
//
// # Puts and deletes
//
// A put stores the item plus the attribute (as a string of SeqWidth digits)
// with a PutItem conditioned on guardCondition. A delete is a DeleteItem
// conditioned the same way: no tombstone is left, so the target stays equal
// to the source. The cost is that a put older than a delete that arrives
// after the delete recreates the item; the publisher prevents that by
// sending each item's changes strictly one after the other, and a replay of
// the stream is in order, so it ends with the delete again.
//
// A write rejected by the condition
// (ConditionalCheckFailedException) is stale: it is skipped and counts as
// success.
type SeqGuard struct {
	t    *Table
	attr string
}

// NewSeqGuard returns a SeqGuard writing through t (its API, table and
// retry settings) and keeping sequence numbers in the attribute attr
// (default DefaultSeqAttribute).
func NewSeqGuard(t *Table, attr string) *SeqGuard {
	if attr == "" {
		attr = DefaultSeqAttribute
	}
	return &SeqGuard{t: t, attr: attr}
}

// Attribute returns the name of the sequence attribute.
func (g *SeqGuard) Attribute() string { return g.attr }

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

// WriteBatch implements replicate.Writer with conditional PutItem and
// DeleteItem calls, at most maxGuardedInFlight at once. Each write must
// carry its change's Seq.
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
	names := map[string]string{"#seq": g.attr}
	values := map[string]types.AttributeValue{":seq": &types.AttributeValueMemberS{Value: seq}}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt >= g.t.maxAttempts {
				return retries, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, lastErr)
			}
			retries++
			if err := g.t.backoff(ctx, attempt); err != nil {
				return retries, fmt.Errorf("retry after %w: %w", lastErr, err)
			}
		}
		if w.Op == replicate.OpPut {
			item := make(map[string]types.AttributeValue, len(w.Item)+1)
			for k, v := range w.Item {
				item[k] = v
			}
			item[g.attr] = &types.AttributeValueMemberS{Value: seq}
			_, err = g.t.api.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(g.t.name), Item: item, ConditionExpression: aws.String(guardCondition),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			})
		} else {
			_, err = g.t.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: aws.String(g.t.name), Key: w.Key, ConditionExpression: aws.String(guardCondition),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			})
		}
		if err == nil || IsConditionalCheckFailed(err) {
			return retries, nil // applied, or stale and skipped
		}
		lastErr = fmt.Errorf("guarded %s item: %w", w.Op, err)
		if !Retryable(err) {
			return retries, lastErr
		}
	}
}

// IsConditionalCheckFailed reports whether err is DynamoDB's
// ConditionalCheckFailedException.
func IsConditionalCheckFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
