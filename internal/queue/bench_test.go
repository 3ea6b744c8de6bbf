package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// benchRecords is the batch size of the speed figures.
const benchRecords = 10_000

// benchLatency stands in for one round trip to SNS or DynamoDB.
const benchLatency = 5 * time.Millisecond

// slowSNS accepts every entry after benchLatency.
type slowSNS struct{}

func (slowSNS) PublishBatch(ctx context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	t := time.NewTimer(benchLatency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := &sns.PublishBatchOutput{Successful: make([]snstypes.PublishBatchResultEntry, len(in.PublishBatchRequestEntries))}
	for i, e := range in.PublishBatchRequestEntries {
		out.Successful[i].Id = e.Id
	}
	return out, nil
}

func benchBatch(keys int) []queue.Record {
	recs := make([]queue.Record, benchRecords)
	for i := range recs {
		recs[i] = record(fmt.Sprint("k", i%keys), i+1, i)
	}
	return recs
}

// BenchmarkPublisher_Publish publishes 10,000 records through a 5 ms SNS
// stand-in: with every key distinct, and with 100 hot keys (100 messages per
// group, sent one after the other).
func BenchmarkPublisher_Publish(b *testing.B) {
	for _, keys := range []int{benchRecords, 100} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			recs := benchBatch(keys)
			p := queue.NewPublisher(slowSNS{}, "arn:aws:sns:us-east-1:1:t.fifo", queue.PublisherOptions{})
			b.ResetTimer()
			for range b.N {
				if res := p.Publish(b.Context(), recs); res.FailedSeq != "" {
					b.Fatal(res.FirstError)
				}
			}
			b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// benchDeletes marks every record i with i%10 < 3 a delete: 30% deletes.
func benchDeletes(i int) bool { return i%10 < 3 }

// BenchmarkApplier_Apply applies 10,000 distinct-key messages through the
// stale-write guard (one conditional PutItem each, a tombstone for a
// delete) against the 5 ms DynamoDB stand-in, beside the direct table path
// (BatchWriteItem of 25) for comparison. Lambda delivers at most 10
// messages per FIFO batch, so "batch=10" applies them ten at a time, 32
// batches at once (as Lambda scales across message groups). "deletes=30%"
// makes three records in ten deletes.
func BenchmarkApplier_Apply(b *testing.B) {
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	defer stub.Close()
	client := stub.Client(b)
	table := dynamo.NewTable(client, "target", dynamo.Options{})
	recs := benchBatch(benchRecords)
	msgs := make([]queue.Message, len(recs))
	mixed := make([]queue.Message, len(recs))
	changes := make([]replicate.Change, len(recs))
	for i, r := range recs {
		msgs[i] = message(b, r)
		changes[i] = r.Change
		if benchDeletes(i) {
			r = record(fmt.Sprint("k", i), i+1, -1)
		}
		mixed[i] = message(b, r)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "records/s")
	}
	guard := func() *queue.Applier {
		return queue.NewApplier(replicate.New(dynamo.NewSeqGuard(table, replattr.Names{}, dynamo.GuardOptions{}), replicate.Options{}), nil, "")
	}
	whole := func(msgs []queue.Message) func(b *testing.B) {
		return func(b *testing.B) {
			a := guard()
			for range b.N {
				if res := a.Apply(b.Context(), msgs); len(res.FailedIDs) > 0 {
					b.Fatal(res.FirstError)
				}
			}
			report(b)
		}
	}
	byTen := func(msgs []queue.Message) func(b *testing.B) {
		return func(b *testing.B) {
			a := guard()
			for range b.N {
				sem := make(chan struct{}, 32)
				errs := make(chan error, len(msgs)/10)
				for lo := 0; lo < len(msgs); lo += 10 {
					sem <- struct{}{}
					go func() {
						defer func() { <-sem }()
						if res := a.Apply(b.Context(), msgs[lo:lo+10]); len(res.FailedIDs) > 0 {
							errs <- res.FirstError
						}
					}()
				}
				for range cap(sem) {
					sem <- struct{}{}
				}
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			report(b)
		}
	}
	b.Run("guarded/batch=10000", whole(msgs))
	b.Run("guarded/batch=10", byTen(msgs))
	b.Run("guarded/deletes=30%/batch=10000", whole(mixed))
	b.Run("guarded/deletes=30%/batch=10", byTen(mixed))
	b.Run("direct-table/batch=10000", func(b *testing.B) {
		rep := replicate.New(table, replicate.Options{})
		for range b.N {
			if res := rep.Apply(b.Context(), changes); res.FailedSeq != "" {
				b.Fatal(res.FirstError)
			}
		}
		report(b)
	})
}
