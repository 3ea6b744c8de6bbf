package streampoll

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Position is how far a shard has been processed.
type Position struct {
	// ShardID is the shard.
	ShardID string
	// SequenceNumber is the last record processed (applied, or recorded as
	// failed); empty if none was.
	SequenceNumber string
	// Drained is true when the shard was read to its end (or skipped).
	Drained bool
}

// Positions returns every known shard's position, sorted by shard id.
func (p *Poller) Positions() []Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Position, 0, len(p.shards))
	for _, sh := range p.shards {
		out = append(out, Position{ShardID: sh.id, SequenceNumber: sh.position, Drained: sh.status == shardDrained})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ShardID < out[j].ShardID })
	return out
}

// Stats counts what the poller has done.
type Stats struct {
	// Records counts the records processed: applied, or recorded as failed.
	Records int64
	// Skipped counts the records skipped because they were created before
	// Options.StartAt.
	Skipped int64
	// Invocations counts the calls of the function, retries included.
	Invocations int64
	// Retries counts the invocations that re-sent failed records.
	Retries int64
	// FailedBatches and FailedRecords count what was given up after the
	// retries (and written to Options.Failures).
	FailedBatches, FailedRecords int64
	// LastFailure is the error of the last invocation of the last batch
	// given up (nil if none was).
	LastFailure error
	// LastCreated is the ApproximateCreationDateTime of the newest record
	// processed (DynamoDB Local rounds it down to the minute).
	LastCreated time.Time
	// LastProcessed is when the last batch finished.
	LastProcessed time.Time
	// LastDelay is the wall-clock time from reading the last processed
	// record from the stream to the end of its batch.
	LastDelay time.Duration
	// Shards counts the shards being read.
	Shards int
	// Pending counts records read but not processed yet.
	Pending int64
}

// Stats returns a snapshot of the counters.
func (p *Poller) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	for _, sh := range p.shards {
		if sh.status == shardReading {
			s.Shards++
		}
	}
	s.Pending = p.pending.Load()
	return s
}

// WaitIdle returns nil once the poller has been idle for d: every shard
// read has caught up, no record is pending and none has been read or
// processed for d. Once writes to the table have stopped, and with d longer
// than the poll interval, this means the function has seen every record.
// It returns ctx's error if ctx ends first.
func (p *Poller) WaitIdle(ctx context.Context, d time.Duration) error {
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	for p.idleFor() < d {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for idle stream: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// idleFor returns how long the poller has had nothing to do: Run has
// listed the shards, no record is pending, every shard being read has
// caught up (its latest read found nothing new), and no record has been
// read or processed for that long.
func (p *Poller) idleFor() time.Duration {
	if !p.listed.Load() || p.pending.Load() > 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sh := range p.shards {
		if sh.status == shardReading && sh.caughtUpAt.IsZero() {
			return 0
		}
	}
	return p.opts.Now().Sub(time.Unix(0, p.lastActivity.Load()))
}

func (p *Poller) touch() { p.lastActivity.Store(p.opts.Now().UnixNano()) }
