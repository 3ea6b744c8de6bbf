package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// Defaults for [Table]'s retries (see [DefaultRetry]): the retry
// package's defaults, which are those of the replicator's writes.
const (
	// DefaultMaxAttempts is how many times a write is tried in all.
	DefaultMaxAttempts = retry.DefaultMaxAttempts
	// DefaultBaseDelay is the first backoff delay before jitter.
	DefaultBaseDelay = retry.DefaultBaseDelay
	// DefaultMaxDelay caps the backoff delay.
	DefaultMaxDelay = retry.DefaultMaxDelay
)

// DefaultRetry is the retry policy of writes: throttling, 5xx, connection
// errors and UnprocessedItems are retried with full jitter.
var DefaultRetry = retry.Policy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay, Jitter: retry.FullJitter}

// API is the part of *dynamodb.Client that Table calls.
type API interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ replicate.RawWriter = (*Table)(nil)

// Table writes to one DynamoDB table.
type Table struct {
	api        API
	name       string
	raw        bool
	quotedName []byte
	// placeholderBody is what the SDK serializes for a raw call's input.
	placeholderBody []byte
	retry           retry.Policy
}

// Options configures a Table; zero fields take the defaults.
type Options struct {
	// Retry shapes the retries of each write; its zero fields take
	// DefaultRetry's. The context's deadline bounds them too.
	Retry retry.Policy
	// Typed turns raw writes off: every write is sent as SDK attribute
	// values, as before raw writes existed (for comparisons).
	Typed bool
}

// NewTable returns a Table writing to the table called name through api.
func NewTable(api API, name string, opts Options) *Table {
	t := &Table{api: api, name: name, retry: opts.Retry.Or(DefaultRetry)}
	// Raw bodies need the SDK client's middleware stack; fakes get SDK values.
	_, client := api.(*dynamodb.Client)
	t.raw = client && !opts.Typed
	t.quotedName = quoteName(name)
	t.placeholderBody = placeholderBody(t.quotedName)
	return t
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Raw implements replicate.RawWriter: it reports whether WriteBatch sends
// writes that carry their DynamoDB JSON as is (see "Raw writes" in the
// package doc).
func (t *Table) Raw() bool { return t.raw }

// WriteBatch implements replicate.Writer with BatchWriteItem. Writes must
// have distinct keys and number at most replicate.MaxBatchWrites. A delete
// with an Owner is a conditional DeleteItem of its own (BatchWriteItem
// takes no conditions; see writeOwned).
func (t *Table) WriteBatch(ctx context.Context, writes []replicate.Write) (errs []error, retries int) {
	if len(writes) == 0 {
		return nil, 0
	}
	if hasOwned(writes) {
		return t.writeOwned(ctx, writes)
	}
	todo := make([]int, 0, len(writes)) // indices of writes not yet applied
	raw := t.rawEnabled(writes)
	if !raw && t.hasRaw(writes) {
		// Some writes came without JSON: send them all as SDK values.
		typed := make([]replicate.Write, len(writes))
		for i, w := range writes {
			tw, err := typedWrite(w)
			if err != nil {
				errs = setErr(errs, len(writes), i, err)
				continue
			}
			typed[i] = tw
			todo = append(todo, i)
		}
		writes = typed
		if len(todo) == 0 {
			return errs, 0
		}
	} else {
		for i := range writes {
			todo = append(todo, i)
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if t.retry.Exhausted(attempt) {
				return failAll(errs, writes, todo, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, lastErr)), retries
			}
			retries += len(todo)
			if err := t.retry.Wait(ctx, attempt); err != nil {
				return failAll(errs, writes, todo, fmt.Errorf("retry after %w: %w", lastErr, err)), retries
			}
		}
		var out *dynamodb.BatchWriteItemOutput
		var err error
		if raw {
			out, err = t.batchWriteRaw(ctx, t.rawBody(writes, todo))
		} else {
			out, err = t.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{t.name: writeRequests(writes, todo)},
			})
		}
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

// hasOwned reports whether a write is a delete with an Owner.
func hasOwned(writes []replicate.Write) bool {
	for i := range writes {
		if writes[i].Owner != nil && writes[i].Op == replicate.OpDelete {
			return true
		}
	}
	return false
}

// writeOwned writes the deletes with an Owner each alone (deleteOwned), at
// most maxGuardedInFlight at once, while the other writes go through
// BatchWriteItem as always.
func (t *Table) writeOwned(ctx context.Context, writes []replicate.Write) (errs []error, retries int) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		sem     = make(chan struct{}, maxGuardedInFlight)
		rest    = make([]replicate.Write, 0, len(writes))
		restIdx = make([]int, 0, len(writes))
	)
	for i := range writes {
		if writes[i].Owner == nil || writes[i].Op != replicate.OpDelete {
			rest, restIdx = append(rest, writes[i]), append(restIdx, i)
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, err := t.deleteOwned(ctx, writes[i])
			mu.Lock()
			defer mu.Unlock()
			retries += n
			if err != nil {
				errs = setErr(errs, len(writes), i, err)
			}
		})
	}
	restErrs, n := t.WriteBatch(ctx, rest)
	wg.Wait()
	retries += n
	for j, err := range restErrs {
		if err != nil {
			errs = setErr(errs, len(writes), restIdx[j], err)
		}
	}
	return errs, retries
}

// deleteOwned deletes w's key only if the item there holds w.Owner
// (ownerCondition), retrying like WriteBatch. A failed condition means
// there is nothing of w's source item to delete (another source item holds
// the key now, or there is no item): the write is applied.
func (t *Table) deleteOwned(ctx context.Context, w replicate.Write) (retries int, err error) {
	if w, err = typedWrite(w); err != nil {
		return 0, err
	}
	names, values := map[string]string{}, map[string]types.AttributeValue{}
	cond := ownerCondition(w.Owner, names, values)
	return t.tryOne(ctx, "owned delete item", func() error {
		_, err := t.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(t.name), Key: w.Key, ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		if IsConditionalCheckFailed(err) {
			return nil // not this source item's: nothing to delete
		}
		return err
	})
}

// ownerCondition returns the condition that an item holds every attribute
// of owner with an equal value ("#o0 = :o0 AND #o1 = :o1", names in
// sorted order), adding its placeholders to names and values.
func ownerCondition(owner map[string]types.AttributeValue, names map[string]string, values map[string]types.AttributeValue) string {
	attrs := ownerNames(owner)
	terms := make([]string, len(attrs))
	for i, a := range attrs {
		n, v := fmt.Sprintf("#o%d", i), fmt.Sprintf(":o%d", i)
		names[n], values[v] = a, owner[a]
		terms[i] = n + " = " + v
	}
	return strings.Join(terms, " AND ")
}

// ownerNames returns the attribute names of owner, sorted.
func ownerNames(owner map[string]types.AttributeValue) []string {
	attrs := make([]string, 0, len(owner))
	for a := range owner {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	return attrs
}

// writeOne writes w alone with PutItem or DeleteItem, retrying like WriteBatch.
func (t *Table) writeOne(ctx context.Context, w replicate.Write) (retries int, err error) {
	if w, err = typedWrite(w); err != nil {
		return 0, err
	}
	return t.tryOne(ctx, fmt.Sprintf("%s item", w.Op), func() error {
		var err error
		if w.Op == replicate.OpPut {
			_, err = t.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: w.Item})
		} else {
			_, err = t.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(t.name), Key: w.Key})
		}
		return err
	})
}

// tryOne makes one single-item call under t's retry policy, retrying the
// errors Retryable accepts; what names the call in its error. retries
// counts the retries decided, as WriteBatch counts them: a retry cut short
// by the deadline is counted.
func (t *Table) tryOne(ctx context.Context, what string, call func() error) (retries int, err error) {
	err = t.retry.Do(ctx, func(attempt int) (bool, error) {
		err := call()
		if err == nil {
			return false, nil
		}
		again := Retryable(err)
		if again && !t.retry.Exhausted(attempt) {
			retries++
		}
		return again, fmt.Errorf("%s: %w", what, err)
	})
	return retries, err
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
	if like == nil {
		key, err := replicate.DecodeImage(writes[todo[0]].RawKey)
		if err != nil {
			return todo
		}
		like = key
	}
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

// hasRaw reports whether any write carries its JSON without SDK values.
func (t *Table) hasRaw(writes []replicate.Write) bool {
	for i := range writes {
		w := &writes[i]
		if (w.Key == nil && w.RawKey != nil) || (w.Op == replicate.OpPut && w.Item == nil && w.RawItem != nil) {
			return true
		}
	}
	return false
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
