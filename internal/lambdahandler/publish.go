package lambdahandler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

var _ StreamBatchHandler = (*PublishHandler)(nil)

// Log keys of the publish path.
const (
	keyTopic     = "topic"
	keyPublished = "published"
	keyKeysOnly  = "keysOnly"
)

// PublishHandler publishes DynamoDB Streams events to an SNS FIFO topic
// (publish mode, the head of the queue topology), and applies them to the
// target table too when it has a replicator. It answers with the earliest
// record that was not both published and applied.
type PublishHandler struct {
	reporter
	pub   *queue.Publisher
	table *StreamHandler // nil: publish only
}

// NewPublishHandler returns a PublishHandler publishing through pub and,
// when rep is not nil, applying through rep. It reports through opts.
func NewPublishHandler(pub *queue.Publisher, rep *replicate.Replicator, opts Options) *PublishHandler {
	h := &PublishHandler{reporter: reporter{opts: opts.withDefaults()}, pub: pub}
	if rep != nil {
		h.table = NewStreamHandler(rep, opts)
	}
	return h
}

// oldImages reports whether the table it applies to too needs old images:
// the envelopes take them from the parsed records either way.
func (h *PublishHandler) oldImages() bool { return h.table != nil && h.table.oldImages() }

func (h *PublishHandler) handleStream(ctx context.Context, ev *streamEvent, b *streamBatch) events.DynamoDBEventResponse {
	failedSeq := h.publish(ctx, ev, b)
	if h.table != nil {
		if seq := h.table.apply(ctx, b); seq != "" && (failedSeq == "" || replicate.CompareSeq(seq, failedSeq) < 0) {
			failedSeq = seq
		}
	}
	return batchResponse(failedSeq)
}

// publish sends the decoded stream records to the topic and returns the
// sequence number to retry from ("" if all were published).
func (h *PublishHandler) publish(ctx context.Context, ev *streamEvent, b *streamBatch) string {
	recs := make([]queue.Record, len(b.changes))
	for i := range b.changes {
		r := &ev.Records[i]
		c := b.changes[i]
		recs[i] = queue.Record{Change: c, Envelope: queue.Envelope{
			Event: r.EventName, Keys: r.Change.Keys, Seq: c.Seq, EventID: r.EventID,
			StreamARN: r.EventSourceARN, TableARN: queue.TableARN(r.EventSourceARN),
			Created: createdMillis(c.Created), OldImage: r.Change.OldImage, TTL: r.isTTL(),
		}}
		if c.Op == replicate.OpPut {
			recs[i].Envelope.NewImage = c.NewImage
		}
	}
	res := h.pub.Publish(ctx, recs)
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String(keyTopic, h.pub.TopicARN()),
		slog.Int(keyRecords, res.Received),
		slog.Int(keyPublished, res.Published),
		slog.Int(keyKeysOnly, res.KeysOnly),
		slog.Int(keyRetries, res.Retries),
		slog.Int(keyFailedRecords, res.FailedRecords),
	}
	if res.FailedSeq != "" {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String(keyFailedSeq, res.FailedSeq), slog.String(keyError, res.FirstError.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "batch published", attrs...)
	h.writeMetrics(ctx, h.opts.Now(), queue.DimensionTopic, queue.TopicName(h.pub.TopicARN()), res.Metrics(h.opts.Now()))
	return res.FailedSeq
}

// createdMillis returns t in Unix milliseconds, 0 for the zero time.
func createdMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
