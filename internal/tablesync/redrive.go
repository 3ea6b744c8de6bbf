package tablesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// Redrive limits.
const (
	// DefaultRedriveBatch is how many records one invocation of the
	// function gets (Lambda's default BatchSize).
	DefaultRedriveBatch = streampoll.DefaultBatchSize
	// maxRedriveRecords bounds the records of one failed batch (Lambda's
	// largest BatchSize).
	maxRedriveRecords = streampoll.MaxBatchSize
	// maxGetRecords is the most records one GetRecords call returns.
	maxGetRecords = 1000
	// maxEmptyReads is how many empty GetRecords answers in a row end the
	// reading of an open shard before the end sequence number.
	maxEmptyReads = 5
)

// Errors of a redrive.
var (
	// ErrExpired is returned when some or all of the batch's records are
	// no longer in the stream (24-hour retention, or the stream is gone).
	// Their keys are unknown: only `ddbsync verify --repair` finds them.
	ErrExpired = errors.New("records no longer in the stream")
	// ErrStillFailing is returned when the function still reports a record
	// of the batch as failed.
	ErrStillFailing = errors.New("the function still fails the batch")
	// ErrBadFailureRecord is returned for a failure record without a
	// usable shard, sequence range or stream ARN.
	ErrBadFailureRecord = errors.New("unusable failure record")
)

// StreamReader is the part of *dynamodbstreams.Client that [Redrive] calls.
type StreamReader interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ StreamReader = (*dynamodbstreams.Client)(nil)

// Invoker is the function that applies stream events: the replicator's
// handler in process (*lambdahandler.Handler) or a function under the
// Runtime Interface Emulator (streampoll.HTTPInvoker).
type Invoker interface {
	// Invoke sends one events.DynamoDBEvent (JSON) and returns the
	// function's events.DynamoDBEventResponse (JSON).
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// RedriveOptions configures [Redrive]; zero fields take the defaults.
type RedriveOptions struct {
	// BatchSize is the most records per invocation (default
	// DefaultRedriveBatch).
	BatchSize int
	// Repairer, if set, repairs every key of the batch after the replay.
	// The records are hours old: replaying them writes old images over
	// keys that may have changed since (their later records were applied
	// when the batch was given up), and the repair brings those keys back
	// to the source's current value.
	Repairer *Repairer
	// Retry shapes the retries of Streams API calls.
	Retry RetryOptions
	// Logger receives warnings (default: discard).
	Logger *slog.Logger
}

// RedriveResult says what [Redrive] did with one failed batch.
type RedriveResult struct {
	// Records counts the records read back from the stream and applied.
	Records int
	// Keys counts the distinct keys of those records; Repaired those
	// rewritten from the source afterwards.
	Keys, Repaired int
	// Expired is set when some or all records had left the stream.
	Expired bool
	// FailedSeq is the record the function still reports as failed.
	FailedSeq string
}

// Redrive replays one failed batch, located by its on-failure record's
// DDBStreamBatchInfo: it reads the records from startSequenceNumber to
// endSequenceNumber back from the stream (GetShardIterator
// AT_SEQUENCE_NUMBER), sends them in order to inv, and then repairs their
// keys (see RedriveOptions.Repairer). It returns nil only when every
// record was applied: the caller may then delete the failure record. It
// returns ErrExpired when records are missing from the stream (those that
// remain are still replayed), and ErrStillFailing when the function fails
// a record again.
func Redrive(ctx context.Context, streams StreamReader, inv Invoker, batch streampoll.BatchInfo, opts RedriveOptions) (RedriveResult, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultRedriveBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Retry = opts.Retry.withDefaults()
	if batch.ShardID == "" || batch.StreamARN == "" || replicate.ValidateSeq(batch.StartSequenceNumber) != nil ||
		replicate.ValidateSeq(batch.EndSequenceNumber) != nil || replicate.CompareSeq(batch.StartSequenceNumber, batch.EndSequenceNumber) > 0 {
		return RedriveResult{}, fmt.Errorf("%w: need shardId, streamArn and startSequenceNumber <= endSequenceNumber", ErrBadFailureRecord)
	}
	r := &rangeReader{api: streams, batch: batch, retry: opts.Retry}
	recs, err := r.read(ctx)
	res := RedriveResult{Records: len(recs), Expired: r.expired}
	if err != nil {
		return res, err
	}
	if len(recs) == 0 {
		return res, fmt.Errorf("redrive shard %s from %s: %w; run `ddbsync verify --repair` to find and fix the affected items",
			batch.ShardID, batch.StartSequenceNumber, ErrExpired)
	}
	for lo := 0; lo < len(recs); lo += opts.BatchSize {
		chunk := recs[lo:min(lo+opts.BatchSize, len(recs))]
		payload, err := streampoll.EventPayload(chunk, batch.StreamARN)
		if err != nil {
			return res, err
		}
		resp, err := inv.Invoke(ctx, payload)
		if err != nil {
			return res, fmt.Errorf("redrive shard %s from %s: invoke function: %w", batch.ShardID, batch.StartSequenceNumber, err)
		}
		seq, err := failedSeq(resp)
		if err != nil {
			return res, err
		}
		if seq != "" {
			res.FailedSeq = seq
			return res, fmt.Errorf("redrive shard %s: %w at record %s", batch.ShardID, ErrStillFailing, seq)
		}
	}
	keys, err := recordKeys(recs)
	if err != nil {
		return res, err
	}
	res.Keys = len(keys)
	if opts.Repairer != nil {
		for _, key := range keys {
			act, err := opts.Repairer.Repair(ctx, key)
			if err != nil {
				return res, fmt.Errorf("redrive shard %s: repair replayed key: %w", batch.ShardID, err)
			}
			if act != ActionNone {
				res.Repaired++
			}
		}
	}
	if r.expired {
		return res, fmt.Errorf("redrive shard %s: %d records replayed, but those before %s %w; run `ddbsync verify --repair` to find and fix the affected items",
			batch.ShardID, len(recs), aws.ToString(recs[0].Dynamodb.SequenceNumber), ErrExpired)
	}
	return res, nil
}

// recordKeys returns the distinct keys of recs, in first-seen order.
func recordKeys(recs []streamtypes.Record) ([]Item, error) {
	seen := map[string]bool{}
	var keys []Item
	for _, rec := range recs {
		key, err := attributevalue.FromDynamoDBStreamsMap(rec.Dynamodb.Keys)
		if err != nil {
			return nil, fmt.Errorf("convert record keys: %w", err)
		}
		id, ok := replicate.KeyID(key)
		if !ok {
			return nil, fmt.Errorf("record %s: %w", aws.ToString(rec.Dynamodb.SequenceNumber), ErrBadKey)
		}
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// rangeReader reads the records of one shard from a start to an end
// sequence number.
type rangeReader struct {
	api     StreamReader
	batch   streampoll.BatchInfo
	retry   RetryOptions
	expired bool
	last    string // sequence number of the last record read
}

func (r *rangeReader) read(ctx context.Context) ([]streamtypes.Record, error) {
	b := r.batch
	iter, err := r.iterator(ctx, streamtypes.ShardIteratorTypeAtSequenceNumber, b.StartSequenceNumber)
	if isExpired(err) {
		// The start has been trimmed: read what is left of the range.
		r.expired = true
		iter, err = r.iterator(ctx, streamtypes.ShardIteratorTypeTrimHorizon, "")
	}
	if isExpired(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []streamtypes.Record
	for empty := 0; iter != nil; {
		var out *dynamodbstreams.GetRecordsOutput
		err := r.retry.do(ctx, func() (err error) {
			out, err = r.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(maxGetRecords)})
			return err
		})
		var stale *streamtypes.ExpiredIteratorException
		switch {
		case errors.As(err, &stale) && r.last != "":
			iter, err = r.iterator(ctx, streamtypes.ShardIteratorTypeAfterSequenceNumber, r.last)
			if err != nil {
				return recs, err
			}
			continue
		case isExpired(err):
			r.expired = true
			return recs, nil
		case err != nil:
			return recs, fmt.Errorf("get records from shard %s: %w", b.ShardID, err)
		}
		if len(out.Records) == 0 {
			if empty++; empty >= maxEmptyReads {
				break
			}
		} else {
			empty = 0
		}
		for _, rec := range out.Records {
			if rec.Dynamodb == nil {
				continue
			}
			seq := aws.ToString(rec.Dynamodb.SequenceNumber)
			switch {
			case replicate.CompareSeq(seq, b.StartSequenceNumber) < 0:
				continue
			case replicate.CompareSeq(seq, b.EndSequenceNumber) > 0:
				return r.check(recs)
			}
			if len(recs) == 0 && replicate.CompareSeq(seq, b.StartSequenceNumber) > 0 {
				r.expired = true // the range's first records are gone
			}
			recs = append(recs, rec)
			r.last = seq
			if len(recs) > maxRedriveRecords {
				return nil, fmt.Errorf("read shard %s: more than %d records from %s to %s", b.ShardID, maxRedriveRecords, b.StartSequenceNumber, b.EndSequenceNumber)
			}
			if replicate.CompareSeq(seq, b.EndSequenceNumber) == 0 {
				return r.check(recs)
			}
		}
		iter = out.NextShardIterator
	}
	return r.check(recs)
}

// check reports a range that ended before its end sequence number.
func (r *rangeReader) check(recs []streamtypes.Record) ([]streamtypes.Record, error) {
	if len(recs) > 0 && replicate.CompareSeq(r.last, r.batch.EndSequenceNumber) < 0 {
		return recs, fmt.Errorf("read shard %s: the shard ends at %s, before the batch's end %s", r.batch.ShardID, r.last, r.batch.EndSequenceNumber)
	}
	return recs, nil
}

func (r *rangeReader) iterator(ctx context.Context, typ streamtypes.ShardIteratorType, seq string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.batch.StreamARN), ShardId: aws.String(r.batch.ShardID), ShardIteratorType: typ}
	if seq != "" {
		in.SequenceNumber = aws.String(seq)
	}
	var out *dynamodbstreams.GetShardIteratorOutput
	err := r.retry.do(ctx, func() (err error) {
		out, err = r.api.GetShardIterator(ctx, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s iterator for shard %s: %w", typ, r.batch.ShardID, err)
	}
	return out.ShardIterator, nil
}

// isExpired reports whether err says the records (or the whole shard or
// stream) have left the stream.
func isExpired(err error) bool {
	var trimmed *streamtypes.TrimmedDataAccessException
	var gone *streamtypes.ResourceNotFoundException
	return errors.As(err, &trimmed) || errors.As(err, &gone)
}
