package lambdahandler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbsync/ddbsync/internal/queue"
)

// Log keys of the queue path.
const (
	keyFailedMessages = "failedMessages"
	keyReread         = "reread"
)

// QueueHandler applies SQS events of envelopes to the target table (the
// apply end of the queue topology) and answers with the failed messages,
// by messageId
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
type QueueHandler struct {
	reporter
	applier *queue.Applier
}

// NewQueueHandler returns a QueueHandler applying through applier. It
// reports through opts.
func NewQueueHandler(applier *queue.Applier, opts Options) *QueueHandler {
	return &QueueHandler{reporter: reporter{opts: opts.withDefaults()}, applier: applier}
}

// handleQueue applies the messages of one parsed SQS event.
func (h *QueueHandler) handleQueue(ctx context.Context, ev *streamEvent, start time.Time) events.SQSEventResponse {
	msgs := make([]queue.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = queue.Message{ID: r.MessageID, GroupID: r.Attributes["MessageGroupId"], Body: []byte(r.Body)}
	}
	res := h.applier.Apply(ctx, msgs)
	resp := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(res.FailedIDs))}
	for _, id := range res.FailedIDs {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String(keyTable, h.opts.TargetTable),
		slog.Int(keyRecords, res.Received),
		slog.Int(keyPuts, res.Puts),
		slog.Int(keyDeletes, res.Deletes),
		slog.Int(keyCollapsed, res.Collapsed),
		slog.Int(keyRetries, res.Retries),
		slog.Int(keyReread, res.Reread),
		slog.Int(keyFailedMessages, len(res.FailedIDs)),
		slog.Int64(keyDurationMs, h.opts.Now().Sub(start).Milliseconds()),
	}
	if res.Reshaped {
		attrs = append(attrs, slog.Int(keyFiltered, res.Filtered), slog.Int(keyTTLSkipped, res.TTLSkipped))
	}
	if res.FirstError != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String(keyError, res.FirstError.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "messages applied", attrs...)
	h.writeMetrics(ctx, h.opts.Now(), queue.DimensionTargetTable, h.opts.TargetTable, res.Metrics(h.opts.Now()))
	return resp
}
