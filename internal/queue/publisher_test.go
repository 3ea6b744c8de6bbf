package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/retry"
)

var fastRetry = queue.PublisherOptions{Retry: retry.Policy{BaseDelay: time.Microsecond, MaxDelay: time.Millisecond}}

// TestPublisher_Publish_OrderPerGroup checks that every record is sent once,
// with each group's messages in stream order and never two of one group in
// the same call.
func TestPublisher_Publish_OrderPerGroup(t *testing.T) {
	var recs []queue.Record
	for i := range 100 {
		recs = append(recs, record(string(rune('a'+i%7)), i+1, i))
	}
	api := &queuetest.FakeSNS{}
	res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(t.Context(), recs)
	assert.Empty(t, res.FailedSeq)
	assert.Equal(t, 100, res.Published)

	lastSeq := map[string]string{}
	for _, call := range api.Calls() {
		require.LessOrEqual(t, len(call), queue.MaxPublishBatch)
		inCall := map[string]bool{}
		for _, e := range call {
			g := aws.ToString(e.MessageGroupId)
			assert.False(t, inCall[g], "two messages of one group in one call")
			inCall[g] = true
			env, err := queue.DecodeEnvelope([]byte(aws.ToString(e.Message)))
			require.NoError(t, err)
			assert.Greater(t, env.Seq, lastSeq[g], "group order")
			lastSeq[g] = env.Seq
			assert.Equal(t, "ev"+env.Seq, aws.ToString(e.MessageDeduplicationId))
		}
	}
	assert.Len(t, lastSeq, 7)
	assert.Len(t, envelopes(api), 100)
}

// TestPublisher_Publish_PartialFailure checks that a failed entry fails
// its key from the key's first record in the batch, stops the rest of
// that group, and leaves other groups published.
func TestPublisher_Publish_PartialFailure(t *testing.T) {
	recs := []queue.Record{
		record("a", 1, 1), record("b", 2, 2), record("a", 3, 3), record("b", 4, 4), record("a", 5, 5), record("c", 6, 6),
	}
	bGroup := queue.GroupID(recs[1].Change.KeyID)
	api := &queuetest.FakeSNS{Answer: func(_ int, e snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry {
		env, _ := queue.DecodeEnvelope([]byte(aws.ToString(e.Message)))
		if aws.ToString(e.MessageGroupId) == bGroup && env.Seq == recs[3].Change.Seq {
			return &snstypes.BatchResultErrorEntry{Code: aws.String("InvalidParameter"), Message: aws.String("bad"), SenderFault: true}
		}
		return nil
	}}
	res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(t.Context(), recs)
	assert.Equal(t, recs[1].Change.Seq, res.FailedSeq, "earliest record of the failed key")
	assert.Equal(t, 2, res.FailedRecords)
	assert.Equal(t, 5, res.Published, "a×3, b's first, c")
	require.Error(t, res.FirstError)
	assert.Contains(t, res.FirstError.Error(), "InvalidParameter")
}

// TestPublisher_Publish_Retries checks that throttled calls and entries
// failed by the service are retried, and that a group whose retries run
// out fails.
func TestPublisher_Publish_Retries(t *testing.T) {
	t.Run("throttled call", func(t *testing.T) {
		api := &queuetest.FakeSNS{CallErr: func(call int) error {
			if call < 2 {
				return &smithy.GenericAPIError{Code: "Throttled", Message: "slow down"}
			}
			return nil
		}}
		res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(t.Context(), []queue.Record{record("a", 1, 1)})
		assert.Empty(t, res.FailedSeq)
		assert.Equal(t, 1, res.Published)
		assert.Len(t, api.Calls(), 3)
	})
	t.Run("service fault entry", func(t *testing.T) {
		api := &queuetest.FakeSNS{Answer: func(call int, _ snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry {
			if call == 0 {
				return &snstypes.BatchResultErrorEntry{Code: aws.String("InternalError"), Message: aws.String("oops")}
			}
			return nil
		}}
		res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(t.Context(), []queue.Record{record("a", 1, 1), record("a", 2, 2)})
		assert.Empty(t, res.FailedSeq)
		assert.Equal(t, 2, res.Published)
		seqs := []string{}
		for _, e := range envelopes(api) {
			seqs = append(seqs, e.Seq)
		}
		assert.Equal(t, []string{recs1(1), recs1(1), recs1(2)}, seqs, "retried before the next of the group")
	})
	t.Run("retries exhausted", func(t *testing.T) {
		api := &queuetest.FakeSNS{CallErr: func(int) error { return &smithy.GenericAPIError{Code: "Throttled"} }}
		opts := fastRetry
		opts.Retry.MaxAttempts = 3
		res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", opts).Publish(t.Context(), []queue.Record{record("a", 1, 1)})
		assert.Equal(t, recs1(1), res.FailedSeq)
		assert.Len(t, api.Calls(), 3)
		assert.ErrorContains(t, res.FirstError, "retries exhausted")
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		api := &queuetest.FakeSNS{}
		res := queue.NewPublisher(api, "arn:aws:sns:r:1:t.fifo", fastRetry).Publish(ctx, []queue.Record{record("a", 1, 1), record("b", 2, 1)})
		assert.Equal(t, recs1(1), res.FailedSeq)
		assert.Empty(t, api.Calls())
	})
}

func recs1(seq int) string { return record("x", seq, 0).Change.Seq }
