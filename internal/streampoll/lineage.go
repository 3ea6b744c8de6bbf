package streampoll

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// shardStatus is where a shard is in its life in the poller.
type shardStatus int

const (
	shardPending shardStatus = iota // known, not read yet
	shardReading                    // a goroutine reads it
	shardDrained                    // read to its end, or skipped
)

// shard is the poller's state for one shard.
type shard struct {
	id       string
	parent   string
	startSeq string // the shard's StartingSequenceNumber, for ordering
	closed   bool   // it has an EndingSequenceNumber
	status   shardStatus

	// Where reading starts: an iterator type, and a sequence number for
	// AFTER_SEQUENCE_NUMBER.
	iterType streamtypes.ShardIteratorType
	afterSeq string
	// iter is the LATEST iterator taken when Run started, for the shard's
	// reader to use first.
	iter *string

	// position is the last sequence number processed, and caughtUpAt the
	// start of the latest read that found nothing new (zero after a read
	// that found records); both guarded by the poller's mutex.
	position   string
	caughtUpAt time.Time
}

// newShard returns the state of a shard seen in a stream description.
func newShard(s streamtypes.Shard) *shard {
	sh := &shard{
		id:       aws.ToString(s.ShardId),
		parent:   aws.ToString(s.ParentShardId),
		iterType: streamtypes.ShardIteratorTypeTrimHorizon,
	}
	if r := s.SequenceNumberRange; r != nil {
		sh.startSeq = aws.ToString(r.StartingSequenceNumber)
		sh.closed = r.EndingSequenceNumber != nil
	}
	return sh
}

// readyShards returns the pending shards that may be read now: those whose
// parent is drained or no longer in the stream. They are ordered by
// starting sequence number (oldest first), then by id.
func readyShards(shards map[string]*shard) []*shard {
	var ready []*shard
	for _, sh := range shards {
		if sh.status != shardPending {
			continue
		}
		if parent, ok := shards[sh.parent]; ok && sh.parent != "" && parent.status != shardDrained {
			continue
		}
		ready = append(ready, sh)
	}
	sort.Slice(ready, func(i, j int) bool {
		a, b := ready[i], ready[j]
		if a.startSeq != b.startSeq && replicate.ValidateSeq(a.startSeq) == nil && replicate.ValidateSeq(b.startSeq) == nil {
			return replicate.CompareSeq(a.startSeq, b.startSeq) < 0
		}
		return a.id < b.id
	})
	return ready
}

// markAncestorsDrained marks every ancestor of the shard id as drained: a
// shard's position can only have been reached after its parents were read.
func markAncestorsDrained(shards map[string]*shard, id string) {
	seen := map[string]bool{}
	for sh := shards[id]; sh != nil && !seen[sh.id]; sh = shards[sh.parent] {
		seen[sh.id] = true
		if sh.id != id {
			sh.status = shardDrained
		}
	}
}

// discover lists the stream's shards and adds the new ones. On the first
// call it applies the starting position and Resume.
func (p *Poller) discover(ctx context.Context, first bool) error {
	var shards []streamtypes.Shard
	var status streamtypes.StreamStatus
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.opts.StreamARN)}
	for {
		out, err := p.api.DescribeStream(ctx, in)
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", p.opts.StreamARN, err)
		}
		if out.StreamDescription == nil {
			return fmt.Errorf("describe stream %s: no description", p.opts.StreamARN)
		}
		status = out.StreamDescription.StreamStatus
		shards = append(shards, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			break
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.streamOn = status == streamtypes.StreamStatusEnabled || status == streamtypes.StreamStatusEnabling
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if _, ok := p.shards[id]; ok || id == "" {
			continue
		}
		sh := newShard(s)
		if first && p.opts.Start == Latest {
			// Closed shards hold only old records; open ones start at their end.
			if sh.closed {
				sh.status = shardDrained
			} else {
				sh.iterType = streamtypes.ShardIteratorTypeLatest
			}
		}
		p.shards[id] = sh
	}
	if first && p.opts.Start == Latest {
		// A shard whose parent is still open is new to the run: it is
		// read after its parent, from its beginning, as a child created
		// later is (a LATEST position taken only once the parent is
		// drained would skip what was written meanwhile).
		for _, sh := range p.shards {
			if parent, ok := p.shards[sh.parent]; ok && sh.parent != "" && parent.status != shardDrained {
				sh.iterType = streamtypes.ShardIteratorTypeTrimHorizon
			}
		}
	}
	if first {
		for id, seq := range p.opts.Resume {
			sh, ok := p.shards[id]
			if !ok {
				return fmt.Errorf("resume shard %s: not in stream %s", id, p.opts.StreamARN)
			}
			sh.status = shardPending
			sh.iterType = streamtypes.ShardIteratorTypeAfterSequenceNumber
			sh.afterSeq, sh.position = seq, seq
			markAncestorsDrained(p.shards, id)
		}
	}
	return nil
}
