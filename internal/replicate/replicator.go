package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ddbsync/ddbsync/internal/rules"
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
	DefaultConcurrency = 32
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

// RawWriter is a Writer that also takes writes in DynamoDB JSON: a Write
// with RawItem (puts) and RawKey set and Item and Key nil. The Replicator
// sends such writes, without decoding the images, when Raw reports true;
// an image outside the forwarded subset (see [CheckImage]) is still sent
// decoded.
type RawWriter interface {
	Writer
	// Raw reports whether WriteBatch takes raw writes.
	Raw() bool
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
	// Rules is the rule set the changes are reshaped with on their way to
	// the target (see reshape.go). nil or the identity rule set keeps the
	// plain path: each change is its own write, images forwarded as they are.
	Rules *rules.RuleSet
}

// Replicator applies batches of changes through a Writer.
type Replicator struct {
	writer Writer
	raw    bool
	opts   Options
	rules  *rules.RuleSet // nil: the identity rule set
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
	rw, ok := w.(RawWriter)
	r := &Replicator{writer: w, raw: ok && rw.Raw(), opts: opts}
	if opts.Rules != nil && !opts.Rules.IsIdentity() {
		r.rules = opts.Rules
	}
	return r
}

// Reshapes reports whether the Replicator applies a rule set other than
// the identity: its changes then need Change.Event, OldImage and TTL.
func (r *Replicator) Reshapes() bool { return r.rules != nil }

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

	// Reshaped says a rule set was applied. Puts, Deletes, Collapsed and
	// FailedKeys then count target writes and keys, the others records.
	Reshaped bool
	// Filtered counts records the rule set gave no write: filtered out,
	// or the REMOVE of an item the filter never copied.
	Filtered int
	// TTLSkipped counts TTL-expiry REMOVEs skipped (ttl_deletes: skip).
	TTLSkipped int
}

// pending is the collapsed state of one key.
type pending struct {
	first   int // index of the key's first record in the batch
	last    int // index of the record whose effect wins
	records int
	err     error
	failed  bool // the key's write failed (set by Write)
}

// Plan is a batch collapsed to one write per key, ready to be written.
type Plan struct {
	changes  []Change
	keys     []pending // in order of first appearance
	keyOf    []int     // index in keys of each record's key, -1 for a record without one
	failedAt int       // index of the earliest record failed while planning, or -1
	res      Result
	// targets, with a rule set, maps the source records to changes: record
	// i's target changes are changes[targets[i]:targets[i+1]] (none for a
	// record the rules gave no write). nil without a rule set: the changes
	// are the records.
	targets []int
}

// NewPlan collapses changes, given in stream order, to one pending write per
// item key and checks every record. It does no I/O.
func NewPlan(changes []Change) *Plan {
	p := &Plan{changes: changes, failedAt: -1, res: Result{Received: len(changes)}}
	index := make(map[string]int, len(changes))
	p.keys = make([]pending, 0, len(changes))
	p.keyOf = make([]int, len(changes))
	for i := range changes {
		p.keyOf[i] = -1
		c := &changes[i]
		if c.Created.After(p.res.NewestCreated) {
			p.res.NewestCreated = c.Created
		}
		if c.KeyID == "" {
			p.res.FailedRecords++
			if c.Err == nil {
				c.Err = errors.New("record has no key")
			}
			p.fail(i, c.Err)
			continue
		}
		k, ok := index[c.KeyID]
		if !ok {
			k = len(p.keys)
			index[c.KeyID] = k
			p.keys = append(p.keys, pending{first: i})
		} else if p.keys[k].err == nil {
			// The earlier record is superseded; still check that it could
			// have been applied, so bad input is never skipped silently.
			p.keys[k].err = checkSuperseded(&changes[p.keys[k].last])
		}
		p.keyOf[i] = k
		pk := &p.keys[k]
		pk.last = i
		pk.records++
		if c.Err != nil && pk.err == nil {
			pk.err = c.Err
		}
	}
	p.res.Collapsed = len(changes) - p.res.FailedRecords - len(p.keys)
	return p
}

// Keys returns the number of distinct keys, that is of writes to make.
func (p *Plan) Keys() int { return len(p.keys) }

// Failed reports whether record i (an index into the changes given to
// NewPlan or Replicator.Plan) was not applied: it has no usable key, its
// key's write failed, or, with a rule set, its rules failed or one of its
// target writes failed. It is meaningful once Write has returned.
func (p *Plan) Failed(i int) bool {
	if p.targets == nil {
		return p.failedChange(i)
	}
	for j := p.targets[i]; j < p.targets[i+1]; j++ {
		if p.failedChange(j) {
			return true
		}
	}
	return false
}

// failedChange reports whether change j was not applied.
func (p *Plan) failedChange(j int) bool {
	k := p.keyOf[j]
	return k < 0 || p.keys[k].failed
}

// fail records that the batch must be retried from record i at the latest.
func (p *Plan) fail(i int, err error) {
	if p.failedAt < 0 || CompareSeq(p.changes[i].Seq, p.changes[p.failedAt].Seq) < 0 {
		p.failedAt = i
		p.res.FirstError = err
	}
}

// Apply makes the target reflect changes, given in stream order. It never
// returns an error: every problem becomes a failed key, and Result.FailedSeq
// says where Lambda must resume.
func (r *Replicator) Apply(ctx context.Context, changes []Change) Result {
	return r.Write(ctx, r.Plan(changes))
}

// Plan returns the plan of changes, given in stream order: NewPlan's, or,
// with a rule set, the plan of the target writes the rules make of them
// (see reshape.go), whose Failed still takes the index of a change given
// here. It does no I/O.
func (r *Replicator) Plan(changes []Change) *Plan {
	if r.rules == nil {
		return NewPlan(changes)
	}
	return r.reshape(changes)
}

// Write performs a plan's writes in chunks of at most MaxBatchWrites, at
// most Options.Concurrency chunks at once, and stops starting chunks when
// the deadline margin is reached.
func (r *Replicator) Write(ctx context.Context, p *Plan) Result {
	ctx, cancel := r.writeContext(ctx)
	defer cancel()

	var mu sync.Mutex
	res := p.res
	failKey := func(k *pending, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.FailedKeys++
		res.FailedRecords += k.records
		k.failed = true
		p.fail(k.first, err)
	}

	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for start := 0; start < len(p.keys); {
		end, size := start, 0
		for end < len(p.keys) && end-start < MaxBatchWrites {
			n := len(p.changes[p.keys[end].last].NewImage) + 64
			if end > start && size+n > r.opts.MaxBatchBytes {
				break
			}
			size += n
			end++
		}
		chunk := p.keys[start:end]
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
			puts, deletes, retries := r.writeChunk(ctx, p.changes, chunk, failKey)
			mu.Lock()
			res.Puts += puts
			res.Deletes += deletes
			res.Retries += retries
			mu.Unlock()
		}()
	}
	wg.Wait()

	res.FirstError = p.res.FirstError
	if p.failedAt >= 0 {
		res.FailedSeq = p.changes[p.failedAt].Seq
	}
	if p.targets != nil {
		// Count records, not target writes.
		res.FailedRecords = 0
		for i := range len(p.targets) - 1 {
			if p.Failed(i) {
				res.FailedRecords++
			}
		}
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
	return DeadlineContext(ctx, r.opts.DeadlineMargin)
}

// DeadlineContext returns ctx with its deadline moved margin earlier (at
// most a quarter of the time left), ending with cause ErrOutOfTime, so that
// the work stops in time to report what is left. Without a deadline it
// returns a plain cancelable ctx.
func DeadlineContext(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
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
		w, err := r.write(c)
		if err != nil {
			failKey(p, err)
			continue
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

// write returns the write for change c: raw when the writer takes it and
// the images are in the forwarded subset, otherwise decoded as always.
func (r *Replicator) write(c *Change) (Write, error) {
	w := Write{Op: c.Op, Key: c.Key, KeyID: c.KeyID, Seq: c.Seq, Owner: c.owner}
	if r.raw && c.RawKey != nil {
		if c.Op != OpPut {
			w.RawKey = c.RawKey
			return w, nil
		}
		forward, err := CheckImage(c.NewImage)
		if err != nil {
			return Write{}, fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err)
		}
		if forward {
			w.RawKey, w.RawItem = c.RawKey, c.NewImage
			return w, nil
		}
	}
	if w.Key == nil && c.RawKey != nil {
		key, err := DecodeImage(c.RawKey)
		if err != nil {
			return Write{}, fmt.Errorf("record %s: decode Keys: %w", c.Seq, err)
		}
		w.Key = key
	}
	if c.Op == OpPut {
		item, err := DecodeImage(c.NewImage)
		if err != nil {
			return Write{}, fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err)
		}
		w.Item = item
	}
	return w, nil
}

// checkSuperseded validates a record whose write is replaced by a later
// change of the same key.
func checkSuperseded(c *Change) error {
	if c.Err != nil {
		return c.Err
	}
	if c.Op == OpPut && !c.shaped {
		if _, err := CheckImage(c.NewImage); err != nil {
			return fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err)
		}
	}
	return nil
}
