package streampoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// readShard reads the shard and delivers its records until the shard is
// drained (drained is true), ctx is cancelled, or a fatal error occurs.
// Records read but not delivered when ctx is cancelled stay unprocessed.
func (p *Poller) readShard(ctx context.Context, sh *shard) (drained bool, err error) {
	r := &shardReader{p: p, sh: sh}
	defer func() { p.pending.Add(-int64(len(r.buf))) }() // dropped on stop or error
	return r.run(ctx)
}

// shardReader is the state of one shard's reading goroutine.
type shardReader struct {
	p        *Poller
	sh       *shard
	iter     *string
	lastRead string    // sequence number of the last record read
	buf      []*record // read, not delivered yet
	bufSince time.Time // when buf's first record was read
	readAt   time.Time // when the last GetRecords call started
	readErr  bool      // the last GetRecords call failed (and was handled)
	wait     time.Duration
	errTries int  // GetRecords calls failed in a row with a retryable error
	started  bool // a record at or after Options.StartAt was kept
}

func (r *shardReader) run(ctx context.Context) (bool, error) {
	p := r.p
	p.mu.Lock()
	r.iter, r.sh.iter = r.sh.iter, nil // a LATEST iterator taken at the start
	p.mu.Unlock()
	if r.iter == nil {
		if err := r.renew(ctx, r.sh.iterType, r.sh.afterSeq); err != nil || ctx.Err() != nil {
			return false, err
		}
	}
	open := r.iter != nil // the shard still has a next iterator
	for {
		if len(r.buf) > 0 && (len(r.buf) >= p.opts.BatchSize || !open || p.opts.Now().Sub(r.bufSince) >= p.opts.BatchWindow) {
			n := batchLen(r.buf, p.opts.BatchSize)
			batch := r.buf[:n]
			if err := p.deliver(ctx, r.sh, batch); err != nil {
				return false, err
			}
			r.buf = append(r.buf[:0], r.buf[n:]...)
			if ctx.Err() != nil {
				return false, nil
			}
			continue
		}
		if !open {
			return true, nil
		}
		// Pace the reads: Lambda reads a shard about four times a second,
		// and DynamoDB Streams throttles faster readers.
		if !sleep(ctx, r.readAt.Add(min(p.opts.PollInterval, maxReadRate)).Sub(p.opts.Now())) {
			return false, nil
		}
		got, err := r.read(ctx)
		if err != nil {
			return false, err
		}
		open = r.iter != nil
		p.mu.Lock()
		r.sh.caughtUpAt = time.Time{}
		if got == 0 && len(r.buf) == 0 && !r.readErr {
			r.sh.caughtUpAt = r.readAt
		}
		p.mu.Unlock()
		if got > 0 || !open {
			r.wait = 0
			continue
		}
		// Nothing new: wait, doubling up to the poll interval, but not past
		// the end of the batching window.
		r.wait = min(max(2*r.wait, minPollInterval), p.opts.PollInterval)
		d := r.wait
		if len(r.buf) > 0 {
			d = min(d, p.opts.BatchWindow-p.opts.Now().Sub(r.bufSince))
		}
		if !sleep(ctx, d) {
			return false, nil
		}
	}
}

// read makes one GetRecords call and buffers what it returns.
func (r *shardReader) read(ctx context.Context) (int, error) {
	p := r.p
	r.readAt = p.opts.Now()
	out, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: r.iter, Limit: aws.Int32(maxGetRecords)})
	r.readErr = err != nil
	if err != nil {
		return 0, r.recover(ctx, err)
	}
	r.errTries = 0
	r.iter = out.NextShardIterator
	if len(out.Records) == 0 {
		return 0, nil
	}
	now := p.opts.Now()
	kept := 0
	for _, rec := range out.Records {
		conv, err := convertRecord(rec, p.opts.StreamARN, now)
		if err != nil {
			return 0, fmt.Errorf("read shard %s: %w", r.sh.id, err)
		}
		r.lastRead = conv.seq
		if r.skip(conv) {
			continue
		}
		kept++
		if len(r.buf) == 0 {
			r.bufSince = now
		}
		r.buf = append(r.buf, conv)
	}
	p.pending.Add(int64(kept))
	p.touch()
	return len(out.Records), nil
}

// skip reports whether rec comes before Options.StartAt in a shard where
// no record was kept yet; such a record is done at once: the shard's
// position moves past it.
func (r *shardReader) skip(rec *record) bool {
	p := r.p
	if r.started || p.opts.StartAt.IsZero() || rec.created.IsZero() || !rec.created.Before(p.opts.StartAt) {
		r.started = true
		return false
	}
	p.count(func(s *Stats) {
		r.sh.position = rec.seq
		s.Skipped++
	})
	return true
}

// recover handles a failed GetRecords: an expired iterator is renewed after
// the last record read, trimmed data restarts at the oldest record, and a
// retryable error is retried after a backoff. Other errors are returned.
func (r *shardReader) recover(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil // stopping; the caller sees ctx
	}
	p := r.p
	var expired *streamtypes.ExpiredIteratorException
	var trimmed *streamtypes.TrimmedDataAccessException
	switch {
	case errors.As(err, &expired):
		if r.lastRead != "" {
			return r.renew(ctx, streamtypes.ShardIteratorTypeAfterSequenceNumber, r.lastRead)
		}
		if r.sh.iterType == streamtypes.ShardIteratorTypeLatest {
			// A new LATEST iterator would skip what was written since the
			// start; the position cannot be recovered.
			return fmt.Errorf("read shard %s: its LATEST iterator expired before any record was read, so its position is lost (start from TRIM_HORIZON): %w", r.sh.id, err)
		}
		return r.renew(ctx, r.sh.iterType, r.sh.afterSeq)
	case errors.As(err, &trimmed):
		p.opts.Logger.Warn("records trimmed from the stream before they were read; restarting at the oldest record",
			slog.String(keyShard, r.sh.id), slog.String(keySeq, r.lastRead))
		return r.renew(ctx, streamtypes.ShardIteratorTypeTrimHorizon, "")
	case dynamo.Transient(err): // throttling, 5xx, connection resets, timeouts
		r.errTries++
		wait := p.readRetry.Delay(r.errTries)
		p.opts.Logger.Warn("get records failed; retrying", slog.String(keyShard, r.sh.id),
			slog.Int64(keyDelay, wait.Milliseconds()), slog.String(keyError, err.Error()))
		sleep(ctx, wait) // until Run stops, as in deliverPart: no deadline check
		return nil
	}
	return fmt.Errorf("get records from shard %s: %w", r.sh.id, err)
}

// renew gets a new shard iterator.
func (r *shardReader) renew(ctx context.Context, typ streamtypes.ShardIteratorType, seq string) error {
	in := &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(r.p.opts.StreamARN),
		ShardId:           aws.String(r.sh.id),
		ShardIteratorType: typ,
	}
	if typ == streamtypes.ShardIteratorTypeAfterSequenceNumber || typ == streamtypes.ShardIteratorTypeAtSequenceNumber {
		in.SequenceNumber = aws.String(seq)
	}
	out, err := r.p.api.GetShardIterator(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("get %s iterator for shard %s: %w", typ, r.sh.id, err)
	}
	r.iter = out.ShardIterator
	return nil
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
