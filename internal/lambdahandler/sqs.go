package lambdahandler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	gojson "github.com/goccy/go-json"

	"github.com/ddbsync/ddbsync/internal/fanout"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Event sources, as in each record's eventSource.
const (
	sourceDynamoDB = "aws:dynamodb"
	sourceSQS      = "aws:sqs"
)

// Log keys of the queue paths.
const (
	keyTopic          = "topic"
	keyPublished      = "published"
	keyKeysOnly       = "keysOnly"
	keyFailedMessages = "failedMessages"
	keyReread         = "reread"
)

// eventSource returns the eventSource of the payload's first record ("" for
// an empty or unreadable event).
func eventSource(payload []byte) string {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if gojson.Unmarshal(payload, &probe) != nil || len(probe.Records) == 0 {
		return ""
	}
	return probe.Records[0].EventSource
}

// sqsEvent is the part of an SQS Lambda event (events.SQSEvent) the handler reads.
type sqsEvent struct {
	Records []struct {
		MessageID  string            `json:"messageId"`
		Body       string            `json:"body"`
		Attributes map[string]string `json:"attributes"`
	} `json:"Records"`
}

// HandleSQS applies one SQS event of envelopes (apply mode) and returns the
// partial batch failure response, naming failed messages by messageId
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
// It returns an error only when the event cannot be read or the handler has
// no applier.
func (h *Handler) HandleSQS(ctx context.Context, payload []byte) (events.SQSEventResponse, error) {
	start := h.opts.Now()
	if h.opts.Applier == nil {
		return events.SQSEventResponse{}, fmt.Errorf("%w: SQS event but no target table to apply it to", ErrBadEvent)
	}
	var ev sqsEvent
	if err := gojson.Unmarshal(payload, &ev); err != nil {
		return events.SQSEventResponse{}, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	msgs := make([]fanout.Message, len(ev.Records))
	for i, r := range ev.Records {
		msgs[i] = fanout.Message{ID: r.MessageID, GroupID: r.Attributes["MessageGroupId"], Body: []byte(r.Body)}
	}
	res := h.opts.Applier.Apply(ctx, msgs)
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
	if res.FirstError != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String(keyError, res.FirstError.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "messages applied", attrs...)
	h.writeMetrics(ctx, h.opts.Now(), fanout.DimensionTargetTable, h.opts.TargetTable, res.Metrics(h.opts.Now()))
	return resp, nil
}

// publish sends the decoded stream records to the topic and returns the
// sequence number to retry from ("" if all were published).
func (h *Handler) publish(ctx context.Context, ev *streamEvent, changes []replicate.Change) string {
	recs := make([]fanout.Record, len(changes))
	for i := range changes {
		r := &ev.Records[i]
		c := changes[i]
		recs[i] = fanout.Record{Change: c, Envelope: fanout.Envelope{
			Event: r.EventName, Keys: r.Change.Keys, Seq: c.Seq, EventID: r.EventID,
			StreamARN: r.EventSourceARN, TableARN: fanout.TableARN(r.EventSourceARN),
			Created: createdMillis(c.Created),
		}}
		if c.Op == replicate.OpPut {
			recs[i].Envelope.NewImage = c.NewImage
		}
	}
	res := h.opts.Publisher.Publish(ctx, recs)
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String(keyTopic, h.opts.Publisher.TopicARN()),
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
	h.writeMetrics(ctx, h.opts.Now(), fanout.DimensionTopic, fanout.TopicName(h.opts.Publisher.TopicARN()), res.Metrics(h.opts.Now()))
	return res.FailedSeq
}

// createdMillis returns t in Unix milliseconds, 0 for the zero time.
func createdMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
