package lambdahandler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

var _ StreamBatchHandler = (*StreamHandler)(nil)

// StreamHandler applies DynamoDB Streams events to the target table (the
// direct path) and answers with the earliest record not applied.
type StreamHandler struct {
	reporter
	rep *replicate.Replicator
}

// NewStreamHandler returns a StreamHandler applying changes through rep.
// It reports through opts.
func NewStreamHandler(rep *replicate.Replicator, opts Options) *StreamHandler {
	return &StreamHandler{reporter: reporter{opts: opts.withDefaults()}, rep: rep}
}

func (h *StreamHandler) oldImages() bool { return h.rep.Reshapes() }

func (h *StreamHandler) handleStream(ctx context.Context, _ *streamEvent, b *streamBatch) events.DynamoDBEventResponse {
	return batchResponse(h.apply(ctx, b))
}

// apply applies the batch, writes its summary line and metrics and returns
// the sequence number to retry from ("" if all were applied).
func (h *StreamHandler) apply(ctx context.Context, b *streamBatch) string {
	res := h.rep.Apply(ctx, b.changes)
	h.report(ctx, b.start, b.ttl, res)
	return res.FailedSeq
}

// batchResponse answers a stream batch: retry from failedSeq, or nothing
// to retry when it is "".
func batchResponse(failedSeq string) events.DynamoDBEventResponse {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	if failedSeq != "" {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: failedSeq})
	}
	return resp
}

func (h *StreamHandler) report(ctx context.Context, start time.Time, ttl int, res replicate.Result) {
	now := h.opts.Now()
	var lag time.Duration
	if !res.NewestCreated.IsZero() {
		lag = max(now.Sub(res.NewestCreated), 0)
	}
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String(keyTable, h.opts.TargetTable),
		slog.Int(keyRecords, res.Received),
		slog.Int(keyPuts, res.Puts),
		slog.Int(keyDeletes, res.Deletes),
		slog.Int(keyTTLDeletes, ttl),
		slog.Int(keyCollapsed, res.Collapsed),
		slog.Int(keyRetries, res.Retries),
		slog.Int(keyFailedRecords, res.FailedRecords),
		slog.Int(keyFailedKeys, res.FailedKeys),
		slog.Int64(keyDurationMs, now.Sub(start).Milliseconds()),
		slog.Int64(keyLagMs, lag.Milliseconds()),
	}
	if res.Reshaped {
		attrs = append(attrs, slog.Int(keyFiltered, res.Filtered), slog.Int(keyTTLSkipped, res.TTLSkipped))
	}
	if res.FailedSeq != "" {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String(keyFailedSeq, res.FailedSeq), slog.String(keyError, res.FirstError.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "batch applied", attrs...)

	metrics := []emf.Metric{
		{Name: "RecordsReceived", Unit: emf.Count, Value: float64(res.Received)},
		{Name: "ItemsPut", Unit: emf.Count, Value: float64(res.Puts)},
		{Name: "ItemsDeleted", Unit: emf.Count, Value: float64(res.Deletes)},
		{Name: "RecordsFailed", Unit: emf.Count, Value: float64(res.FailedRecords)},
		{Name: "WriteRetries", Unit: emf.Count, Value: float64(res.Retries)},
		{Name: "ReplicationLagMs", Unit: emf.Milliseconds, Value: float64(lag.Milliseconds())},
	}
	h.writeMetrics(ctx, now, queue.DimensionTargetTable, h.opts.TargetTable, append(metrics, queue.RulesMetrics(res)...))
}
