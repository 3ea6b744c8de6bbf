package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Defaults for [Table].
const (
	// DefaultMaxAttempts is how many times a write is tried in all.
	DefaultMaxAttempts = 10
	// DefaultBaseDelay is the first backoff delay before jitter.
	DefaultBaseDelay = 25 * time.Millisecond
	// DefaultMaxDelay caps the backoff delay.
	DefaultMaxDelay = 2 * time.Second
)

// API is the part of *dynamodb.Client that Table calls.
type API interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ replicate.Writer = (*Table)(nil)

// Table writes to one DynamoDB table.
type Table struct {
	api         API
	name        string
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
}

// Options configures a Table; zero fields take the defaults.
type Options struct {
	// MaxAttempts is how many times a write is tried in all (default DefaultMaxAttempts).
	MaxAttempts int
	// BaseDelay is the first backoff delay (default DefaultBaseDelay).
	BaseDelay time.Duration
	// MaxDelay caps the backoff delay (default DefaultMaxDelay).
	MaxDelay time.Duration
}

// NewTable returns a Table writing to the table called name through api.
func NewTable(api API, name string, opts Options) *Table {
	t := &Table{api: api, name: name, maxAttempts: opts.MaxAttempts, baseDelay: opts.BaseDelay, maxDelay: opts.MaxDelay}
	if t.maxAttempts <= 0 {
		t.maxAttempts = DefaultMaxAttempts
	}
	if t.baseDelay <= 0 {
		t.baseDelay = DefaultBaseDelay
	}
	if t.maxDelay <= 0 {
		t.maxDelay = DefaultMaxDelay
	}
	return t
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// WriteBatch implements replicate.Writer with BatchWriteItem. Writes must
// have distinct keys and number at most replicate.MaxBatchWrites.
func (t *Table) WriteBatch(ctx context.Context, writes []replicate.Write) (errs []error, retries int) {
	if len(writes) == 0 {
		return nil, 0
	}
	todo := make([]int, len(writes)) // indices of writes not yet applied
	for i := range todo {
		todo[i] = i
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt >= t.maxAttempts {
				return failAll(errs, writes, todo, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, lastErr)), retries
			}
			retries += len(todo)
			if err := t.backoff(ctx, attempt); err != nil {
				return failAll(errs, writes, todo, fmt.Errorf("retry after %w: %w", lastErr, err)), retries
			}
		}
		out, err := t.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{t.name: writeRequests(writes, todo)},
		})
		switch {
		case err == nil:
			todo = t.unprocessed(writes, todo, out)
			if len(todo) == 0 {
				return errs, retries
			}
			lastErr = fmt.Errorf("%d items unprocessed", len(todo))
		case Retryable(err):
			lastErr = fmt.Errorf("batch write item: %w", err)
		case IsValidation(err) && len(todo) > 1:
			// One bad item rejects the whole call: write each alone.
			for _, i := range todo {
				n, err := t.writeOne(ctx, writes[i])
				retries += n
				if err != nil {
					errs = setErr(errs, len(writes), i, err)
				}
			}
			return errs, retries
		default:
			return failAll(errs, writes, todo, fmt.Errorf("batch write item: %w", err)), retries
		}
	}
}

// writeOne writes w alone with PutItem or DeleteItem, retrying like WriteBatch.
func (t *Table) writeOne(ctx context.Context, w replicate.Write) (retries int, err error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt >= t.maxAttempts {
				return retries, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, lastErr)
			}
			retries++
			if err := t.backoff(ctx, attempt); err != nil {
				return retries, fmt.Errorf("retry after %w: %w", lastErr, err)
			}
		}
		if w.Op == replicate.OpPut {
			_, err = t.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: w.Item})
		} else {
			_, err = t.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(t.name), Key: w.Key})
		}
		if err == nil {
			return retries, nil
		}
		lastErr = fmt.Errorf("%s item: %w", w.Op, err)
		if !Retryable(err) {
			return retries, lastErr
		}
	}
}

// unprocessed maps the response's UnprocessedItems back to write indices.
// If an unprocessed request cannot be matched, every write in todo is kept,
// which is safe because puts and deletes are idempotent.
func (t *Table) unprocessed(writes []replicate.Write, todo []int, out *dynamodb.BatchWriteItemOutput) []int {
	reqs := out.UnprocessedItems[t.name]
	if len(reqs) == 0 {
		return nil
	}
	byKey := make(map[string]int, len(todo))
	for _, i := range todo {
		byKey[writes[i].KeyID] = i
	}
	like := writes[todo[0]].Key
	left := make([]int, 0, len(reqs))
	for _, r := range reqs {
		var key map[string]types.AttributeValue
		switch {
		case r.PutRequest != nil:
			key = replicate.Project(r.PutRequest.Item, like)
		case r.DeleteRequest != nil:
			key = r.DeleteRequest.Key
		}
		id, ok := replicate.KeyID(key)
		i, found := byKey[id]
		if !ok || !found {
			return todo
		}
		left = append(left, i)
	}
	return left
}

// backoff sleeps before the given retry attempt (1-based); see Backoff.
func (t *Table) backoff(ctx context.Context, attempt int) error {
	return Backoff(ctx, attempt, t.baseDelay, t.maxDelay)
}

// Backoff sleeps before retry attempt (1-based): full jitter over an
// exponential of base, capped at maxDelay. It returns an error, without
// sleeping, when ctx would end first, so no retry outlives the deadline.
// Every retry loop of ddbsync waits with it.
func Backoff(ctx context.Context, attempt int, base, maxDelay time.Duration) error {
	ceiling := maxDelay
	if shift := attempt - 1; shift >= 0 && shift < 30 && base<<shift < ceiling {
		ceiling = base << shift
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return fmt.Errorf("backoff of %v would pass the deadline: %w", d, context.DeadlineExceeded)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func writeRequests(writes []replicate.Write, todo []int) []types.WriteRequest {
	reqs := make([]types.WriteRequest, len(todo))
	for j, i := range todo {
		if writes[i].Op == replicate.OpPut {
			reqs[j].PutRequest = &types.PutRequest{Item: writes[i].Item}
		} else {
			reqs[j].DeleteRequest = &types.DeleteRequest{Key: writes[i].Key}
		}
	}
	return reqs
}

func setErr(errs []error, n, i int, err error) []error {
	if errs == nil {
		errs = make([]error, n)
	}
	errs[i] = err
	return errs
}

func failAll(errs []error, writes []replicate.Write, todo []int, err error) []error {
	for _, i := range todo {
		errs = setErr(errs, len(writes), i, err)
	}
	return errs
}
