package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limits of one BatchWriteItem call
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
const (
	// MaxBatchWrites is the most write requests one BatchWriteItem call takes.
	MaxBatchWrites = 25
	// MaxBatchBytes is the most bytes one BatchWriteItem request may carry.
	MaxBatchBytes = 16 << 20
)

// Defaults for [Options].
const (
	// DefaultConcurrency is how many chunks are written at once.
	DefaultConcurrency = 16
	// DefaultDeadlineMargin is how long before the invocation deadline the
	// replicator stops starting writes and reports what is left as failed.
	DefaultDeadlineMargin = time.Second
)

// Errors a failed write can carry.
var (
	// ErrOutOfTime is reported for writes not started or not finished before
	// the deadline margin.
	ErrOutOfTime = errors.New("out of time before the invocation deadline")
)

// Writer applies writes to the target table.
type Writer interface {
	// WriteBatch applies at most MaxBatchWrites writes with distinct keys.
	// It retries what can be retried within ctx's deadline and returns one
	// error per write, nil for a write that is durably applied. A nil slice
	// means every write was applied. Retries counts the retried calls and
	// items, for metrics.
	WriteBatch(ctx context.Context, writes []Write) (errs []error, retries int)
}

// Options configures a [Replicator]. Zero fields take the defaults.
type Options struct {
	// Concurrency bounds the chunks written at once (default DefaultConcurrency).
	Concurrency int
	// MaxBatchBytes bounds the estimated request size of one chunk (default
	// MaxBatchBytes; lower only in tests).
	MaxBatchBytes int
	// DeadlineMargin is kept free before ctx's deadline (default
	// DefaultDeadlineMargin, at most a quarter of the time left when Apply starts).
	DeadlineMargin time.Duration
}

// Replicator applies batches of changes through a Writer.
type Replicator struct {
	writer Writer
	opts   Options
}

// New returns a Replicator writing through w.
func New(w Writer, opts Options) *Replicator {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxBatchBytes <= 0 || opts.MaxBatchBytes > MaxBatchBytes {
		opts.MaxBatchBytes = MaxBatchBytes
	}
	if opts.DeadlineMargin <= 0 {
		opts.DeadlineMargin = DefaultDeadlineMargin
	}
	return &Replicator{writer: w, opts: opts}
}

// Result says what Apply did.
type Result struct {
	// FailedSeq is the sequence number from which the batch must be retried,
	// or "" when every record was applied.
	FailedSeq string
	// Received counts the records in the batch.
	Received int
	// Puts and Deletes count the writes applied.
	Puts, Deletes int
	// Collapsed counts records whose write was folded into a later change of
	// the same key.
	Collapsed int
	// Retries counts retried write calls and items.
	Retries int
	// FailedRecords counts records not applied: every record of a failed key
	// and every undecodable record.
	FailedRecords int
	// FailedKeys counts keys whose write failed.
	FailedKeys int
	// NewestCreated is the newest record creation time in the batch.
	NewestCreated time.Time
	// FirstError is the error of the earliest failed record, for logs.
	FirstError error
}

// pending is the collapsed state of one key.
type pending struct {
	first   int // index of the key's first record in the batch
	last    int // index of the record whose effect wins
	records int
	err     error
}

// Apply makes the target reflect changes, given in stream order. It never
// returns an error: every problem becomes a failed key, and Result.FailedSeq
// says where Lambda must resume.
func (r *Replicator) Apply(ctx context.Context, changes []Change) Result {
	res := Result{Received: len(changes)}
	failedAt := -1
	fail := func(i int, err error) {
		if failedAt < 0 || CompareSeq(changes[i].Seq, changes[failedAt].Seq) < 0 {
			failedAt = i
			res.FirstError = err
		}
	}

	keys := make(map[string]int, len(changes))
	plan := make([]pending, 0, len(changes))
	for i := range changes {
		c := &changes[i]
		if c.Created.After(res.NewestCreated) {
			res.NewestCreated = c.Created
		}
		if c.KeyID == "" {
			res.FailedRecords++
			if c.Err == nil {
				c.Err = errors.New("record has no key")
			}
			fail(i, c.Err)
			continue
		}
		k, ok := keys[c.KeyID]
		if !ok {
			k = len(plan)
			keys[c.KeyID] = k
			plan = append(plan, pending{first: i})
		} else {
			// The earlier record is superseded; still check that it could
			// have been applied, so bad input is never skipped silently.
			if err := checkSuperseded(&changes[plan[k].last]); err != nil && plan[k].err == nil {
				plan[k].err = err
			}
		}
		p := &plan[k]
		p.last = i
		p.records++
		if c.Err != nil && p.err == nil {
			p.err = c.Err
		}
	}
	res.Collapsed = len(changes) - res.FailedRecords - len(plan)

	ctx, cancel := r.writeContext(ctx)
	defer cancel()

	var mu sync.Mutex
	failKey := func(p *pending, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.FailedKeys++
		res.FailedRecords += p.records
		fail(p.first, err)
	}

	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for start := 0; start < len(plan); {
		end, size := start, 0
		for end < len(plan) && end-start < MaxBatchWrites {
			c := &changes[plan[end].last]
			n := len(c.NewImage) + 64
			if end > start && size+n > r.opts.MaxBatchBytes {
				break
			}
			size += n
			end++
		}
		chunk := plan[start:end]
		start = end

		if !acquire(ctx, sem) {
			for i := range chunk {
				failKey(&chunk[i], fmt.Errorf("write not started: %w", context.Cause(ctx)))
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			puts, deletes, retries := r.writeChunk(ctx, changes, chunk, failKey)
			mu.Lock()
			res.Puts += puts
			res.Deletes += deletes
			res.Retries += retries
			mu.Unlock()
		}()
	}
	wg.Wait()

	if failedAt >= 0 {
		res.FailedSeq = changes[failedAt].Seq
	}
	return res
}

// acquire takes a slot of sem unless ctx is done first.
func acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		if ctx.Err() != nil {
			<-sem
			return false
		}
		return true
	case <-ctx.Done():
		return false
	}
}

// writeContext returns ctx shortened by the deadline margin.
func (r *Replicator) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := r.opts.DeadlineMargin
	if left := time.Until(deadline); margin > left/4 {
		margin = left / 4
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-margin), ErrOutOfTime)
}

// writeChunk decodes the chunk's images, writes them and reports failures.
func (r *Replicator) writeChunk(ctx context.Context, changes []Change, chunk []pending, failKey func(*pending, error)) (puts, deletes, retries int) {
	writes := make([]Write, 0, len(chunk))
	idx := make([]int, 0, len(chunk))
	for i := range chunk {
		p := &chunk[i]
		if p.err != nil {
			failKey(p, p.err)
			continue
		}
		c := &changes[p.last]
		w := Write{Op: c.Op, Key: c.Key, KeyID: c.KeyID}
		if c.Op == OpPut {
			item, err := DecodeImage(c.NewImage)
			if err != nil {
				failKey(p, fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err))
				continue
			}
			w.Item = item
		}
		writes = append(writes, w)
		idx = append(idx, i)
	}
	if len(writes) == 0 {
		return 0, 0, 0
	}
	errs, retries := r.writer.WriteBatch(ctx, writes)
	for j, w := range writes {
		var err error
		if errs != nil {
			err = errs[j]
		}
		switch {
		case err != nil:
			failKey(&chunk[idx[j]], err)
		case w.Op == OpPut:
			puts++
		default:
			deletes++
		}
	}
	return puts, deletes, retries
}

// checkSuperseded validates a record whose write is replaced by a later
// change of the same key.
func checkSuperseded(c *Change) error {
	if c.Err != nil {
		return c.Err
	}
	if c.Op == OpPut {
		if _, err := DecodeImage(c.NewImage); err != nil {
			return fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err)
		}
	}
	return nil
}
