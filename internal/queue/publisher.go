package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// Limits and defaults of a [Publisher].
const (
	// MaxPublishBatch is the most entries one PublishBatch call takes
	// (https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html).
	MaxPublishBatch = 10
	// maxBatchPayload is the most bytes of message bodies one PublishBatch
	// call may carry in all.
	maxBatchPayload = MaxMessageBytes
	// DefaultPublishConcurrency bounds the PublishBatch calls in flight.
	DefaultPublishConcurrency = 16
	// DefaultMaxAttempts is how many times a message is tried in all.
	DefaultMaxAttempts = 8
	// DefaultBaseDelay and DefaultMaxDelay shape the retry backoff.
	DefaultBaseDelay = 25 * time.Millisecond
	DefaultMaxDelay  = time.Second
)

// DefaultRetry is the retry policy of PublishBatch calls and entries, with
// full jitter.
var DefaultRetry = retry.Policy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay, Jitter: retry.FullJitter}

// SNSAPI is the part of *sns.Client that Publisher calls.
type SNSAPI interface {
	PublishBatch(ctx context.Context, in *sns.PublishBatchInput, optFns ...func(*sns.Options)) (*sns.PublishBatchOutput, error)
}

var _ SNSAPI = (*sns.Client)(nil)

// Record is one stream record to publish.
type Record struct {
	// Change is the decoded record: Seq, KeyID, Created and Err are used.
	Change replicate.Change
	// Envelope is the message body to send (Seq, Keys, NewImage, …).
	Envelope Envelope
}

// PublisherOptions configures a Publisher; zero fields take the defaults.
type PublisherOptions struct {
	// Concurrency bounds the PublishBatch calls in flight (default DefaultPublishConcurrency).
	Concurrency int
	// Retry shapes retries of throttled calls and of entries failed by the
	// service; its zero fields take DefaultRetry's. The deadline (less
	// DeadlineMargin) bounds them too.
	Retry retry.Policy
	// DeadlineMargin is kept free before ctx's deadline (default
	// replicate.DefaultDeadlineMargin, at most a quarter of the time left).
	DeadlineMargin time.Duration
}

// Publisher publishes stream records to an SNS FIFO topic.
type Publisher struct {
	api   SNSAPI
	topic string
	opts  PublisherOptions
}

// NewPublisher returns a Publisher sending to the FIFO topic topicARN through api.
func NewPublisher(api SNSAPI, topicARN string, opts PublisherOptions) *Publisher {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultPublishConcurrency
	}
	opts.Retry = opts.Retry.Or(DefaultRetry)
	if opts.DeadlineMargin <= 0 {
		opts.DeadlineMargin = replicate.DefaultDeadlineMargin
	}
	return &Publisher{api: api, topic: topicARN, opts: opts}
}

// TopicARN returns the topic published to.
func (p *Publisher) TopicARN() string { return p.topic }

// PublishResult says what Publish did.
type PublishResult struct {
	// FailedSeq is the sequence number from which the stream batch must be
	// retried, or "" when every record was published.
	FailedSeq string
	// Received counts the records; Published the messages accepted.
	Received, Published int
	// KeysOnly counts the messages sent without their image.
	KeysOnly int
	// Calls and Retries count PublishBatch calls and retried entries.
	Calls, Retries int
	// FailedRecords counts records not published (all records of a failed key).
	FailedRecords int
	// FirstError is the error of the earliest failed record, for logs.
	FirstError error
	// NewestCreated is the newest record creation time in the batch.
	NewestCreated time.Time
}

// message is one record ready to send.
type message struct {
	rec   int // index in the records
	body  string
	group string
	dedup string
}

// group is the messages of one key, in stream order.
type group struct {
	msgs  []message
	first int   // index of the key's first record
	next  int   // the first message not yet published
	err   error // set when the group failed: nothing more is sent
}

// Publish sends records, given in stream order, as one message each, with
// each key's messages in order. It never returns an error: a key whose
// message fails fails from its first record in the batch, and
// PublishResult.FailedSeq says where the stream must resume.
func (p *Publisher) Publish(ctx context.Context, records []Record) PublishResult {
	ctx, cancel := replicate.DeadlineContext(ctx, p.opts.DeadlineMargin)
	defer cancel()

	res := PublishResult{Received: len(records)}
	failedAt := -1
	fail := func(i int, err error) {
		if failedAt < 0 || replicate.CompareSeq(records[i].Change.Seq, records[failedAt].Change.Seq) < 0 {
			failedAt = i
			res.FirstError = err
		}
	}

	index := map[string]int{}
	var groups []*group
	var counts []int // records per group
	for i := range records {
		r := &records[i]
		c := &r.Change
		if c.Created.After(res.NewestCreated) {
			res.NewestCreated = c.Created
		}
		if c.KeyID == "" {
			res.FailedRecords++
			err := c.Err
			if err == nil {
				err = errors.New("record has no key")
			}
			fail(i, err)
			continue
		}
		k, ok := index[c.KeyID]
		if !ok {
			k = len(groups)
			index[c.KeyID] = k
			groups = append(groups, &group{first: i})
			counts = append(counts, 0)
		}
		g := groups[k]
		counts[k]++
		if g.err != nil {
			continue
		}
		if c.Err != nil {
			g.err = c.Err
			continue
		}
		body, err := r.Envelope.Encode()
		if err != nil {
			g.err = err
			continue
		}
		if r.Envelope.KeysOnly {
			res.KeysOnly++
		}
		g.msgs = append(g.msgs, message{
			rec: i, body: string(body), group: GroupID(c.KeyID),
			dedup: DedupID(r.Envelope.EventID, r.Envelope.StreamARN, c.Seq),
		})
	}

	// Each worker owns a share of the groups and sends, per call, at most
	// one message of each of its groups, so a group's messages go out one
	// after the other while different groups go out in parallel.
	workers := min(p.opts.Concurrency, len(groups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		var mine []*group
		for k := w; k < len(groups); k += workers {
			mine = append(mine, groups[k])
		}
		wg.Go(func() {
			st := p.runWorker(ctx, mine)
			mu.Lock()
			defer mu.Unlock()
			res.Published += st.published
			res.Calls += st.calls
			res.Retries += st.retries
		})
	}
	wg.Wait()

	for k, g := range groups {
		if g.err == nil && g.next < len(g.msgs) {
			g.err = errors.New("message not published")
		}
		if g.err != nil {
			res.FailedRecords += counts[k]
			fail(g.first, g.err)
		}
	}
	if failedAt >= 0 {
		res.FailedSeq = records[failedAt].Change.Seq
	}
	return res
}

type workerStats struct{ published, calls, retries int }

// runWorker publishes the groups' messages until each group is done or failed.
func (p *Publisher) runWorker(ctx context.Context, groups []*group) workerStats {
	var st workerStats
	attempts := map[*group]int{}
	start := 0
	for {
		var batch []*group
		size := 0
		live := 0
		for j := range groups {
			g := groups[(start+j)%len(groups)]
			if g.err != nil || g.next >= len(g.msgs) {
				continue
			}
			live++
			n := len(g.msgs[g.next].body)
			if len(batch) == MaxPublishBatch || (len(batch) > 0 && size+n > maxBatchPayload) {
				continue
			}
			batch = append(batch, g)
			size += n
		}
		if live == 0 {
			return st
		}
		start = (start + len(batch)) % len(groups)
		if ctx.Err() != nil {
			err := fmt.Errorf("publish not started: %w", context.Cause(ctx))
			for _, g := range groups {
				if g.err == nil && g.next < len(g.msgs) {
					g.err = err
				}
			}
			return st
		}
		retry := p.send(ctx, batch, attempts)
		st.calls++
		st.retries += len(retry)
		for _, g := range batch {
			if g.err == nil && !retry[g] {
				g.next++
				st.published++
				delete(attempts, g)
			}
		}
		if len(retry) > 0 {
			attempt := 0
			for g := range retry {
				attempt = max(attempt, attempts[g])
			}
			if err := p.opts.Retry.Wait(ctx, attempt); err != nil {
				for g := range retry {
					g.err = fmt.Errorf("retry publish: %w", err)
				}
			}
		}
	}
}

// send makes one PublishBatch call of the next message of each group. It
// sets g.err for a group whose message failed for good and returns the
// groups to try again (throttling, service faults).
func (p *Publisher) send(ctx context.Context, batch []*group, attempts map[*group]int) (retry map[*group]bool) {
	entries := make([]snstypes.PublishBatchRequestEntry, len(batch))
	for j, g := range batch {
		m := &g.msgs[g.next]
		entries[j] = snstypes.PublishBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(j)),
			Message:                aws.String(m.body),
			MessageGroupId:         aws.String(m.group),
			MessageDeduplicationId: aws.String(m.dedup),
		}
	}
	retry = map[*group]bool{}
	again := func(g *group, err error) {
		attempts[g]++
		if p.opts.Retry.Exhausted(attempts[g]) {
			g.err = fmt.Errorf("%w after %d attempts: %w", dynamo.ErrRetriesExhausted, attempts[g], err)
			return
		}
		retry[g] = true
	}
	out, err := p.api.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(p.topic), PublishBatchRequestEntries: entries})
	if err != nil {
		err = fmt.Errorf("publish batch: %w", err)
		for _, g := range batch {
			if retryablePublish(err) {
				again(g, err)
			} else {
				g.err = err
			}
		}
		return retry
	}
	for _, f := range out.Failed {
		j, convErr := strconv.Atoi(aws.ToString(f.Id))
		if convErr != nil || j < 0 || j >= len(batch) {
			continue
		}
		ferr := fmt.Errorf("publish entry: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault || !retryableCode(aws.ToString(f.Code)) {
			batch[j].err = ferr
		} else {
			again(batch[j], ferr)
		}
	}
	// An entry neither failed nor successful is unknown: try it again (the
	// deduplication id makes a second copy harmless).
	if len(out.Failed)+len(out.Successful) < len(batch) {
		seen := make([]bool, len(batch))
		for _, list := range [][]*string{successIDs(out), failedIDs(out)} {
			for _, id := range list {
				if j, err := strconv.Atoi(aws.ToString(id)); err == nil && j >= 0 && j < len(batch) {
					seen[j] = true
				}
			}
		}
		for j, ok := range seen {
			if !ok {
				again(batch[j], errors.New("publish entry: no result"))
			}
		}
	}
	return retry
}

func successIDs(out *sns.PublishBatchOutput) []*string {
	ids := make([]*string, len(out.Successful))
	for i := range out.Successful {
		ids[i] = out.Successful[i].Id
	}
	return ids
}

func failedIDs(out *sns.PublishBatchOutput) []*string {
	ids := make([]*string, len(out.Failed))
	for i := range out.Failed {
		ids[i] = out.Failed[i].Id
	}
	return ids
}

// retryablePublish reports whether a PublishBatch error is worth retrying:
// SNS's throttling ("Throttled"), KMS throttling and what dynamo.Retryable
// accepts (throttle codes, 5xx, connection errors).
func retryablePublish(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && retryableCode(apiErr.ErrorCode()) {
		return true
	}
	return dynamo.Retryable(err)
}

func retryableCode(code string) bool {
	switch code {
	case "Throttled", "ThrottledException", "Throttling", "ThrottlingException", "KMSThrottling",
		"InternalError", "InternalFailure", "ServiceUnavailable":
		return true
	}
	return false
}
