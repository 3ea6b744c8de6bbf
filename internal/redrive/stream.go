package redrive

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Stream reading limits.
const (
	// maxBatchRecords bounds the records of one failed batch (Lambda's
	// largest BatchSize).
	maxBatchRecords = streampoll.MaxBatchSize
	// maxGetRecords is the most records one GetRecords call returns.
	maxGetRecords = 1000
	// maxEmptyReads is how many empty GetRecords answers in a row end the
	// reading of an open shard before the end sequence number.
	maxEmptyReads = 5
)

// StreamReader is the part of *dynamodbstreams.Client that [Batch] calls.
type StreamReader interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ StreamReader = (*dynamodbstreams.Client)(nil)

// rangeReader reads the records of one shard from a start to an end
// sequence number.
type rangeReader struct {
	api     StreamReader
	batch   streampoll.BatchInfo
	retry   tablesync.RetryOptions
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
		err := dynamo.Retry(ctx, r.retry, func() (err error) {
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
			if len(recs) > maxBatchRecords {
				return nil, fmt.Errorf("read shard %s: more than %d records from %s to %s", b.ShardID, maxBatchRecords, b.StartSequenceNumber, b.EndSequenceNumber)
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
	err := dynamo.Retry(ctx, r.retry, func() (err error) {
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
