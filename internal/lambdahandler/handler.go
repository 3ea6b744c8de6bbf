package lambdahandler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	gojson "github.com/goccy/go-json"

	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/fanout"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Log keys of the per-invocation summary line.
const (
	keyTable         = "table"
	keyRecords       = "records"
	keyPuts          = "puts"
	keyDeletes       = "deletes"
	keyTTLDeletes    = "ttlDeletes"
	keyCollapsed     = "collapsed"
	keyRetries       = "retries"
	keyFailedRecords = "failedRecords"
	keyFailedKeys    = "failedKeys"
	keyFailedSeq     = "failedSeq"
	keyDurationMs    = "durationMs"
	keyLagMs         = "lagMs"
	keyError         = "error"
)

// Options configures a Handler.
type Options struct {
	// TargetTable names the target table in logs and metric dimensions.
	TargetTable string
	// Logger receives the summary line (default: discard).
	Logger *slog.Logger
	// Metrics receives one EMF line per invocation (default: none).
	Metrics io.Writer
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Publisher, if set, publishes stream events to an SNS FIFO topic
	// (publish mode), besides applying them when the Handler has a
	// replicator.
	Publisher *fanout.Publisher
	// Applier, if set, applies SQS events of envelopes (apply mode).
	Applier *fanout.Applier
}

// Handler handles DynamoDB Streams events for Lambda.
type Handler struct {
	rep  *replicate.Replicator
	opts Options
}

// New returns a Handler applying stream events through rep (nil to only
// publish them, see Options.Publisher).
func New(rep *replicate.Replicator, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{rep: rep, opts: opts}
}

// Invoke implements lambda.Handler: payload is a DynamoDB Streams event
// (eventSource "aws:dynamodb"), answered with an
// events.DynamoDBEventResponse, or an SQS event (eventSource "aws:sqs"),
// answered with an events.SQSEventResponse. Taking the raw payload lets the
// handler keep images undecoded until they are written.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var resp any
	var err error
	if eventSource(payload) == sourceSQS {
		resp, err = h.HandleSQS(ctx, payload)
	} else {
		resp, err = h.Handle(ctx, payload)
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

// Handle applies one stream event and returns the partial batch failure
// response. It returns an error only when the event cannot be read.
func (h *Handler) Handle(ctx context.Context, payload []byte) (events.DynamoDBEventResponse, error) {
	start := h.opts.Now()
	var ev streamEvent
	err := gojson.Unmarshal(payload, &ev)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	var changes []replicate.Change
	var ttl int
	if err == nil {
		changes, ttl, err = decodeRecords(&ev)
	}
	if err == nil && h.rep == nil && h.opts.Publisher == nil {
		err = fmt.Errorf("%w: stream event but neither a target table nor a topic is configured", ErrBadEvent)
	}
	if err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelError, "batch rejected",
			slog.String(keyTable, h.opts.TargetTable), slog.String(keyError, err.Error()))
		return events.DynamoDBEventResponse{}, err
	}
	var failedSeq string
	if h.opts.Publisher != nil {
		failedSeq = h.publish(ctx, &ev, changes)
	}
	if h.rep != nil {
		res := h.rep.Apply(ctx, changes)
		h.report(ctx, start, ttl, res)
		if res.FailedSeq != "" && (failedSeq == "" || replicate.CompareSeq(res.FailedSeq, failedSeq) < 0) {
			failedSeq = res.FailedSeq
		}
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	if failedSeq != "" {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: failedSeq})
	}
	return resp, nil
}

func (h *Handler) report(ctx context.Context, start time.Time, ttl int, res replicate.Result) {
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
	if res.FailedSeq != "" {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String(keyFailedSeq, res.FailedSeq), slog.String(keyError, res.FirstError.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "batch applied", attrs...)

	h.writeMetrics(ctx, now, fanout.DimensionTargetTable, h.opts.TargetTable, []emf.Metric{
		{Name: "RecordsReceived", Unit: emf.Count, Value: float64(res.Received)},
		{Name: "ItemsPut", Unit: emf.Count, Value: float64(res.Puts)},
		{Name: "ItemsDeleted", Unit: emf.Count, Value: float64(res.Deletes)},
		{Name: "RecordsFailed", Unit: emf.Count, Value: float64(res.FailedRecords)},
		{Name: "WriteRetries", Unit: emf.Count, Value: float64(res.Retries)},
		{Name: "ReplicationLagMs", Unit: emf.Milliseconds, Value: float64(lag.Milliseconds())},
	})
}

// writeMetrics writes one EMF line with the dimension dim=value to
// Options.Metrics, if set: the direct path's per target table, publish
// mode's per topic, apply mode's per target table.
func (h *Handler) writeMetrics(ctx context.Context, now time.Time, dim, value string, metrics []emf.Metric) {
	if h.opts.Metrics == nil {
		return
	}
	if err := emf.Write(h.opts.Metrics, now, map[string]string{dim: value}, metrics); err != nil {
		h.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "metrics not written", slog.String(keyError, err.Error()))
	}
}
