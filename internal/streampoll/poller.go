package streampoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/retry"
)

// Defaults for [Options].
const (
	// DefaultMaxRetries is a sensible Options.MaxRetries for local runs
	// (the CLI's default). Lambda's default is -1 (until the records
	// expire); locally a small bound keeps a poison record from blocking a
	// shard for a day.
	DefaultMaxRetries = 3
	// RetryForever (or any negative Options.MaxRetries) never gives up a
	// batch.
	RetryForever = -1
	// DefaultRetryBaseDelay and DefaultRetryMaxDelay shape the backoff
	// between retries of a failed batch.
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultRetryMaxDelay  = 5 * time.Second
	// DefaultPollInterval is the longest wait between reads of a shard that
	// returned nothing: Lambda polls each shard about four times a second.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultDescribeInterval is how often the shard list is refreshed.
	DefaultDescribeInterval = 10 * time.Second
	// DefaultInvokeTimeout bounds one invocation, like a function timeout.
	DefaultInvokeTimeout = 60 * time.Second
	// DefaultMaxShards bounds the shards read at once.
	DefaultMaxShards = 64

	// maxGetRecords is the most records one GetRecords call returns.
	maxGetRecords = 1000
	// maxReadRate is the shortest time between two GetRecords calls on a
	// shard (or PollInterval, if shorter).
	maxReadRate = 200 * time.Millisecond
	// minPollInterval is the first wait after an empty read.
	minPollInterval = 25 * time.Millisecond
	// idleCheck is how often Run and WaitIdle look at idleness.
	idleCheck = 20 * time.Millisecond
)

// Log keys.
const (
	keyShard    = "shard"
	keySeq      = "seq"
	keyRecords  = "records"
	keyAttempt  = "attempt"
	keyDelay    = "delayMs"
	keyError    = "error"
	keyStream   = "stream"
	keyShards   = "shards"
	keyFirstSeq = "firstSeq"
	keyLastSeq  = "lastSeq"
)

// API is the part of *dynamodbstreams.Client the poller calls.
type API interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ API = (*dynamodbstreams.Client)(nil)

// Invoker is the function the batches go to: *lambdahandler.Handler in
// process, or a [lambdainvoke.Client] for a function under the Runtime Interface
// Emulator.
type Invoker interface {
	// Invoke sends one events.DynamoDBEvent (JSON) and returns the
	// function's events.DynamoDBEventResponse (JSON). An error means the
	// function failed as a whole (Lambda's function error): the whole batch
	// is retried.
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// StartingPosition is where reading starts in shards that exist when Run
// starts.
type StartingPosition string

// Starting positions, as Lambda's StartingPosition.
const (
	// TrimHorizon starts at the oldest record in the stream.
	TrimHorizon StartingPosition = "TRIM_HORIZON"
	// Latest starts after the newest record.
	Latest StartingPosition = "LATEST"
)

// Options configures a [Poller]. Zero fields take the defaults, except
// MaxRetries.
type Options struct {
	// StreamARN is the stream to read. Required.
	StreamARN string
	// Start is where to start in existing shards (default TrimHorizon).
	Start StartingPosition
	// StartAt, if not zero, starts each shard at its first record created
	// (ApproximateCreationDateTime) at or after StartAt, like an
	// AT_TIMESTAMP position: older records before it are skipped, counted
	// in Stats.Skipped and move the position, without invoking the
	// function; every record from the first one kept on is delivered.
	// This is the local form of a hand-over from an export at T (StartAt
	// T minus the overlap, see docs/export-backfill.md); on Lambda, an
	// event filter on dynamodb.ApproximateCreationDateTime does the same.
	// It needs Start TrimHorizon. Records without a creation time are
	// kept.
	StartAt time.Time
	// Resume maps shard ids to the last sequence number processed (as
	// reported by Positions): those shards restart after it, and their
	// ancestors are not read.
	Resume map[string]string
	// BatchSize is the most records in a batch (default DefaultBatchSize,
	// at most MaxBatchSize).
	BatchSize int
	// BatchWindow is how long to keep reading to fill a batch (default 0:
	// send what a read returns; at most MaxBatchWindow).
	BatchWindow time.Duration
	// MaxRetries is how many times a failed batch is retried before it goes
	// to Failures, like Lambda's MaximumRetryAttempts: 0 (the zero value)
	// sends each batch once, RetryForever retries until Run stops.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the backoff between retries
	// (defaults DefaultRetryBaseDelay, DefaultRetryMaxDelay).
	RetryBaseDelay, RetryMaxDelay time.Duration
	// PollInterval is the longest wait after an empty read (default
	// DefaultPollInterval).
	PollInterval time.Duration
	// DescribeInterval is how often the shard list is refreshed (default
	// DefaultDescribeInterval).
	DescribeInterval time.Duration
	// InvokeTimeout bounds each invocation (default DefaultInvokeTimeout).
	InvokeTimeout time.Duration
	// BisectOnFunctionError splits a batch in two when the function fails
	// as a whole, like Lambda's BisectBatchOnFunctionError.
	BisectOnFunctionError bool
	// MaxShards bounds the shards read at once (default DefaultMaxShards).
	// With Start Latest, Run refuses to start when more shards are to be
	// read at once ([TooManyShardsError]).
	MaxShards int
	// StopWhenIdle, if positive, makes Run return once it has been idle
	// for this long (at least twice PollInterval), as WaitIdle defines it.
	StopWhenIdle time.Duration
	// Failures receives one JSON line ([FailureRecord]) per batch given up
	// after its retries. Nil means the records are only logged and skipped,
	// like Lambda without an on-failure destination.
	Failures io.Writer
	// FunctionARN names the function in failure records.
	FunctionARN string
	// Logger receives warnings and errors (default: discard).
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Poller reads one stream and invokes a function with its batches.
type Poller struct {
	api  API
	inv  Invoker
	opts Options
	// retry paces the retries of a failed batch (jitter in the upper half,
	// as before the policy was shared) and says when they are exhausted;
	// readRetry paces the retries of a failed GetRecords (no jitter).
	retry, readRetry retry.Policy

	mu         sync.Mutex // guards shards, each shard's position and stats
	shards     map[string]*shard
	streamOn   bool // the stream's status is ENABLED or ENABLING
	warnedWait bool
	stats      Stats

	failMu       sync.Mutex  // serialises writes to opts.Failures
	listed       atomic.Bool // Run has listed the shards
	pending      atomic.Int64
	lastActivity atomic.Int64 // unix nanoseconds
}

// New returns a Poller reading through api and invoking inv.
func New(api API, inv Invoker, opts Options) *Poller {
	if opts.Start == "" {
		opts.Start = TrimHorizon
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, MaxBatchSize)
	opts.BatchWindow = min(max(opts.BatchWindow, 0), MaxBatchWindow)
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if opts.RetryMaxDelay <= 0 {
		opts.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.DescribeInterval <= 0 {
		opts.DescribeInterval = DefaultDescribeInterval
	}
	if opts.InvokeTimeout <= 0 {
		opts.InvokeTimeout = DefaultInvokeTimeout
	}
	if opts.MaxShards <= 0 {
		opts.MaxShards = DefaultMaxShards
	}
	if opts.StopWhenIdle > 0 {
		opts.StopWhenIdle = max(opts.StopWhenIdle, 2*opts.PollInterval)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Poller{api: api, inv: inv, opts: opts, shards: map[string]*shard{}}
	p.retry = retry.Policy{MaxAttempts: maxAttempts(opts.MaxRetries), BaseDelay: opts.RetryBaseDelay, MaxDelay: opts.RetryMaxDelay, Jitter: retry.HalfJitter}
	p.readRetry = retry.Policy{BaseDelay: opts.RetryBaseDelay, MaxDelay: opts.RetryMaxDelay, Jitter: retry.NoJitter}
	p.lastActivity.Store(opts.Now().UnixNano())
	return p
}

// maxAttempts is the retry.Policy MaxAttempts of Options.MaxRetries: the
// first invocation plus the retries, Forever when negative.
func maxAttempts(maxRetries int) int {
	if maxRetries < 0 || maxRetries >= retry.Forever-1 {
		return retry.Forever
	}
	return maxRetries + 1
}

// Run reads the stream until ctx is cancelled, the stream is disabled and
// read to its end, or it has been idle for Options.StopWhenIdle; in those
// cases it returns nil after finishing the batches in flight. It returns an
// error when the stream cannot be read or a failure record cannot be
// written.
func (p *Poller) Run(ctx context.Context) error {
	if p.opts.StreamARN == "" {
		return errors.New("run poller: no stream ARN")
	}
	if !p.opts.StartAt.IsZero() && p.opts.Start != TrimHorizon {
		return fmt.Errorf("run poller: StartAt needs Start %s, not %s", TrimHorizon, p.opts.Start)
	}
	if err := p.discover(ctx, true); err != nil {
		return err
	}
	if err := p.fixLatest(ctx); err != nil {
		return err
	}
	p.touch()
	p.listed.Store(true)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		sh      *shard
		drained bool
		err     error
	}
	done := make(chan result)
	running := 0
	var fatal error
	settle := func(r result) { // a reader has returned
		running--
		p.mu.Lock()
		defer p.mu.Unlock()
		r.sh.status = shardPending // stopped, not drained: read again on the next Run
		if r.drained {
			r.sh.status = shardDrained
		}
		fatal = errors.Join(fatal, r.err)
	}
	describe := time.NewTicker(p.opts.DescribeInterval)
	defer describe.Stop()
	var idle <-chan time.Time
	if p.opts.StopWhenIdle > 0 {
		t := time.NewTicker(idleCheck)
		defer t.Stop()
		idle = t.C
	}
	for {
		if ctx.Err() == nil {
			for _, sh := range p.ready(p.opts.MaxShards - running) {
				running++
				go func() {
					drained, err := p.readShard(ctx, sh)
					done <- result{sh, drained, err}
				}()
			}
			if running == 0 && p.finished() {
				stop()
			}
		}
		if ctx.Err() != nil && running == 0 {
			return fatal
		}
		select {
		case r := <-done:
			settle(r)
			if r.err != nil {
				stop()
			}
			if r.drained && ctx.Err() == nil {
				p.logDiscoverErr(ctx, p.discover(ctx, false)) // look for its children
			}
		case <-describe.C:
			p.logDiscoverErr(ctx, p.discover(ctx, false))
		case <-idle:
			if p.idleFor() >= p.opts.StopWhenIdle {
				stop()
			}
		case <-ctx.Done():
			// Wait for the readers to finish their batches in flight.
			for running > 0 {
				settle(<-done)
			}
		}
	}
}

// fixLatest takes, before any shard is read, the LATEST iterator of every
// shard that starts there, so that the records written once Run has
// started are read in every shard. Those shards must all be read at once:
// an iterator expires after 15 minutes, and a shard left waiting would
// have to take a new LATEST position and skip records. It returns a
// *TooManyShardsError when the shards ready at the start outnumber
// Options.MaxShards.
func (p *Poller) fixLatest(ctx context.Context) error {
	if p.opts.Start != Latest {
		return nil
	}
	p.mu.Lock()
	ready := readyShards(p.shards)
	p.mu.Unlock()
	var latest []*shard
	for _, sh := range ready {
		if sh.iterType == streamtypes.ShardIteratorTypeLatest {
			latest = append(latest, sh)
		}
	}
	if len(latest) > 0 && len(ready) > p.opts.MaxShards {
		return &TooManyShardsError{Shards: len(ready), MaxShards: p.opts.MaxShards}
	}
	for _, sh := range latest {
		out, err := p.api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         aws.String(p.opts.StreamARN),
			ShardId:           aws.String(sh.id),
			ShardIteratorType: streamtypes.ShardIteratorTypeLatest,
		})
		if err != nil {
			return fmt.Errorf("get LATEST iterator for shard %s: %w", sh.id, err)
		}
		p.mu.Lock()
		sh.iter = out.ShardIterator
		p.mu.Unlock()
	}
	return nil
}

// ready marks up to n ready shards as being read and returns them.
func (p *Poller) ready(n int) []*shard {
	p.mu.Lock()
	defer p.mu.Unlock()
	ready := readyShards(p.shards)
	if len(ready) > n {
		if !p.warnedWait {
			p.warnedWait = true
			p.opts.Logger.Warn("shards wait for a reader: MaxShards reached", slog.Int(keyShards, len(ready)-max(n, 0)))
		}
		ready = ready[:max(n, 0)]
	}
	for _, sh := range ready {
		sh.status = shardReading
	}
	return ready
}

// finished reports whether the stream is disabled and every shard drained.
func (p *Poller) finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streamOn {
		return false
	}
	for _, sh := range p.shards {
		if sh.status != shardDrained {
			return false
		}
	}
	return true
}

func (p *Poller) logDiscoverErr(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil {
		p.opts.Logger.Warn("describe stream failed", slog.String(keyStream, p.opts.StreamARN), slog.String(keyError, err.Error()))
	}
}

// TooManyShardsError is returned by Run when it starts at LATEST in more
// open shards than Options.MaxShards readers: a shard waiting for a reader
// would take its LATEST position only when its reader starts, skipping the
// records written meanwhile.
type TooManyShardsError struct {
	// Shards counts the shards that would start at LATEST.
	Shards int
	// MaxShards is Options.MaxShards.
	MaxShards int
}

// Error says how many shards there are and how many may be read at once.
func (e *TooManyShardsError) Error() string {
	return fmt.Sprintf("start stream: %d open shards start at LATEST but at most %d are read at once", e.Shards, e.MaxShards)
}
