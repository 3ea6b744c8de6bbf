package lambdahandler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Log keys of the per-invocation summary line.
const (
	keyTable         = "table"
	keyRecords       = "records"
	keyPuts          = "puts"
	keyDeletes       = "deletes"
	keyTTLDeletes    = "ttlDeletes"
	keyFiltered      = "filtered"
	keyTTLSkipped    = "ttlSkipped"
	keyCollapsed     = "collapsed"
	keyRetries       = "retries"
	keyFailedRecords = "failedRecords"
	keyFailedKeys    = "failedKeys"
	keyFailedSeq     = "failedSeq"
	keyDurationMs    = "durationMs"
	keyLagMs         = "lagMs"
	keyError         = "error"
)

// Options says where the handlers report.
type Options struct {
	// TargetTable names the target table in logs and metric dimensions.
	TargetTable string
	// Logger receives the summary line (default: discard).
	Logger *slog.Logger
	// Metrics receives one EMF line per invocation (default: none).
	Metrics io.Writer
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// withDefaults returns o with its zero reporting fields set.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// StreamBatchHandler handles one decoded DynamoDB Streams event for a
// Handler: a *StreamHandler or a *PublishHandler.
type StreamBatchHandler interface {
	// handleStream handles b, the changes of ev. ev is passed apart from
	// b so that a handler that no longer needs the parsed records lets
	// them be collected while the batch is written (the changes hold what
	// is written).
	handleStream(ctx context.Context, ev *streamEvent, b *streamBatch) events.DynamoDBEventResponse
	// oldImages reports whether the changes must keep the records' old
	// images: the replicator applies a rule set.
	oldImages() bool
}

// streamBatch is a decoded stream event.
type streamBatch struct {
	changes []replicate.Change
	ttl     int
	start   time.Time
}

// Handler is the Lambda entry point: it reads each payload once and hands
// it to the handler type configured for its kind, a StreamBatchHandler for
// DynamoDB Streams events (eventSource "aws:dynamodb") or a QueueHandler for
// SQS events (eventSource "aws:sqs").
type Handler struct {
	stream StreamBatchHandler
	queue  *QueueHandler
	opts   Options
}

// NewHandler returns the entry point handing stream events to stream and
// SQS events to queue; either may be nil, and an event of that kind is
// then rejected. opts says where the rejections are logged.
func NewHandler(stream StreamBatchHandler, queue *QueueHandler, opts Options) *Handler {
	return &Handler{stream: stream, queue: queue, opts: opts.withDefaults()}
}

// New returns the entry point of the direct path alone: stream events
// applied through rep by a StreamHandler (with a nil rep, every event is
// rejected). The other modes are composed with NewHandler, or built from a
// configuration by package internal/replicator.
func New(rep *replicate.Replicator, opts Options) *Handler {
	if rep == nil {
		return NewHandler(nil, nil, opts)
	}
	return NewHandler(NewStreamHandler(rep, opts), nil, opts)
}

// Invoke implements lambda.Handler: payload is a DynamoDB Streams event,
// answered with an events.DynamoDBEventResponse, or an SQS event, answered
// with an events.SQSEventResponse. The first record's eventSource, read in
// the one parse of the payload, says which. Taking the raw payload lets
// the handler keep images undecoded until they are written.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := h.opts.Now()
	var ev streamEvent
	err := parseEvent(payload, &ev)
	var resp any
	if err == nil && ev.source() == sourceSQS {
		resp, err = h.handleQueue(ctx, &ev, start)
	} else {
		resp, err = h.handleStream(ctx, &ev, err, start)
	}
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("marshal response: %w", err)
	}
	return out, nil
}

// handleStream decodes a stream event (parseErr is the parse's error) and
// hands it to the stream handler. It returns an error only when the event
// cannot be read or no stream handler is configured.
func (h *Handler) handleStream(ctx context.Context, ev *streamEvent, parseErr error, start time.Time) (events.DynamoDBEventResponse, error) {
	err := parseErr
	var changes []replicate.Change
	var ttl int
	if err == nil {
		changes, ttl, err = decodeRecords(ev, h.stream != nil && h.stream.oldImages())
	}
	if err == nil && h.stream == nil {
		err = fmt.Errorf("%w: stream event but neither a target table nor a topic is configured", ErrBadEvent)
	}
	if err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelError, "batch rejected",
			slog.String(keyTable, h.opts.TargetTable), slog.String(keyError, err.Error()))
		return events.DynamoDBEventResponse{}, err
	}
	return h.stream.handleStream(ctx, ev, &streamBatch{changes: changes, ttl: ttl, start: start}), nil
}

// handleQueue hands an SQS event to the queue handler.
func (h *Handler) handleQueue(ctx context.Context, ev *streamEvent, start time.Time) (events.SQSEventResponse, error) {
	if h.queue == nil {
		return events.SQSEventResponse{}, fmt.Errorf("%w: SQS event but no target table to apply it to", ErrBadEvent)
	}
	return h.queue.handleQueue(ctx, ev, start), nil
}

// reporter writes a handler's summary lines and metrics.
type reporter struct {
	opts Options
}

// writeMetrics writes one EMF line with the dimension dim=value to
// Options.Metrics, if set: the direct path's per target table, publish
// mode's per topic, apply mode's per target table.
func (r *reporter) writeMetrics(ctx context.Context, now time.Time, dim, value string, metrics []emf.Metric) {
	if r.opts.Metrics == nil {
		return
	}
	if err := emf.Write(r.opts.Metrics, now, map[string]string{dim: value}, metrics); err != nil {
		r.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "metrics not written", slog.String(keyError, err.Error()))
	}
}
