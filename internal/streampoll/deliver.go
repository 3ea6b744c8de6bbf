package streampoll

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
)

// deliver invokes the function with batch until every record is processed:
// applied, or, after MaxRetries retries, recorded as failed. A partial
// failure re-sends the batch from the reported record; with
// BisectOnFunctionError a function error splits it in two. When ctx is
// cancelled the invocation in flight finishes but no retry starts. The
// error is fatal: the failure record could not be written.
func (p *Poller) deliver(ctx context.Context, sh *shard, batch []*record) error {
	defer p.pending.Add(-int64(len(batch))) // processed or, on stop, abandoned
	return p.deliverPart(ctx, sh, batch, 0)
}

// deliverPart delivers batch, whose records were already sent invoked times
// as part of a larger batch that was split. As Lambda does with
// BisectBatchOnFunctionError
// (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html),
// a batch of two or more records that fails as a whole is split in two and
// each half is delivered in turn, with its own retries: the split does not
// count against MaxRetries. The second half is sent only once the first is
// processed, so that records stay in order.
func (p *Poller) deliverPart(ctx context.Context, sh *shard, batch []*record, invoked int) error {
	for attempt := 1; ; attempt++ {
		requestID := newRequestID()
		invCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.InvokeTimeout)
		resp, err := p.inv.Invoke(invCtx, payload(batch))
		cancel()
		invoked++
		wholeBatch := err != nil
		failedAt := 0
		if err == nil {
			failedAt, err = checkpoint(resp, batch)
		}
		p.count(func(s *Stats) {
			s.Invocations++
			if invoked > 1 {
				s.Retries++
			}
		})
		if failedAt < 0 {
			p.processed(sh, batch)
			return nil
		}
		p.processed(sh, batch[:failedAt])
		batch = batch[failedAt:]
		if err == nil {
			err = fmt.Errorf("function reported record %s as failed", batch[0].seq)
		}
		attrs := []slog.Attr{
			slog.String(keyShard, sh.id), slog.String(keyFirstSeq, batch[0].seq), slog.String(keyLastSeq, batch[len(batch)-1].seq),
			slog.Int(keyRecords, len(batch)), slog.Int(keyAttempt, attempt), slog.String(keyError, err.Error()),
		}
		bisect := wholeBatch && p.opts.BisectOnFunctionError && len(batch) > 1
		if !bisect && p.retry.Exhausted(attempt) {
			p.opts.Logger.LogAttrs(ctx, slog.LevelError, "batch failed; retries exhausted", attrs...)
			return p.giveUp(sh, batch, requestID, invoked, wholeBatch, err)
		}
		delay := p.retry.Delay(attempt)
		msg := "batch failed; retrying"
		if bisect {
			msg = "batch failed; splitting it in two"
		}
		p.opts.Logger.LogAttrs(ctx, slog.LevelWarn, msg, append(attrs, slog.Int64(keyDelay, delay.Milliseconds()))...)
		// Not retry.Policy.Wait: the poller, like an event source mapping,
		// retries until Run stops, so it never gives up a wait for a
		// deadline; only a cancelled ctx ends it.
		if !sleep(ctx, delay) {
			return nil // stopping: the rest stays unprocessed
		}
		if bisect {
			half := (len(batch) + 1) / 2
			if err := p.deliverPart(ctx, sh, batch[:half], invoked); err != nil || ctx.Err() != nil {
				return err // stopping: the second half stays unprocessed
			}
			return p.deliverPart(ctx, sh, batch[half:], invoked)
		}
	}
}

// giveUp records the failed records in Options.Failures and moves past
// them.
// cause is the error of the last invocation.
func (p *Poller) giveUp(sh *shard, batch []*record, requestID string, invokes int, wholeBatch bool, cause error) error {
	if p.opts.Failures != nil {
		rec := newFailureRecord(p.opts.Now(), requestID, p.opts.FunctionARN, p.opts.StreamARN, sh.id, batch, invokes, wholeBatch)
		line, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("marshal failure record: %w", err)
		}
		p.failMu.Lock()
		_, err = p.opts.Failures.Write(append(line, '\n'))
		p.failMu.Unlock()
		if err != nil {
			return fmt.Errorf("write failure record for shard %s from %s: %w", sh.id, batch[0].seq, err)
		}
	}
	p.count(func(s *Stats) {
		s.FailedBatches++
		s.FailedRecords += int64(len(batch))
		s.LastFailure = cause
	})
	p.processed(sh, batch)
	return nil
}

// processed moves the shard's position past recs and updates the stats.
func (p *Poller) processed(sh *shard, recs []*record) {
	if len(recs) == 0 {
		return
	}
	now := p.opts.Now()
	last := recs[len(recs)-1]
	p.count(func(s *Stats) {
		sh.position = last.seq
		s.Records += int64(len(recs))
		if last.created.After(s.LastCreated) {
			s.LastCreated = last.created
		}
		s.LastProcessed = now
		s.LastDelay = now.Sub(last.fetched)
	})
	p.touch()
}

// count updates the stats under the poller's mutex.
func (p *Poller) count(f func(*Stats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
}
