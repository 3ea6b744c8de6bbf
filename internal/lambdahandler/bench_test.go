package lambdahandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Benchmark settings. Run them with
//
//	go test -run '^$' -bench . -benchmem -benchtime 3x ./internal/lambdahandler/
//	go test -run '^$' -bench DecodePlan -benchmem -cpu 1 ./internal/lambdahandler/
const (
	// benchLatency is the stub's answer time: DynamoDB's in-region latency.
	benchLatency = 5 * time.Millisecond
	// benchTimeout stands in for the Lambda function timeout; the handler
	// stops starting writes a margin before it.
	benchTimeout = time.Minute
	// baselineRecords is how many records the sequential baseline applies
	// per iteration: all 10,000 would take about 50 s.
	baselineRecords = 200
	// heapSampleEvery is the peak-heap sampling period.
	heapSampleEvery = 50 * time.Microsecond
	benchTable      = "target"
	wantResponse    = `{"batchItemFailures":[]}`
)

// nopWriter is a replicate.Writer that writes nothing, to time the
// handler's own work.
type nopWriter struct{}

func (nopWriter) WriteBatch(context.Context, []replicate.Write) ([]error, int) { return nil, 0 }

// newStubHandler returns a handler wired like cmd/replicator, writing
// through the SDK client to a stub answering after benchLatency.
func newStubHandler(tb testing.TB) (*lambdahandler.Handler, *ddbstub.Server) {
	tb.Helper()
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	tb.Cleanup(stub.Close)
	table := dynamo.NewTable(stub.Client(tb), benchTable, dynamo.Options{})
	return newHandler(table), stub
}

func newHandler(w replicate.Writer) *lambdahandler.Handler {
	return lambdahandler.New(replicate.New(w, replicate.Options{}), lambdahandler.Options{TargetTable: benchTable})
}

// invoke runs one Lambda invocation and fails unless every record applied.
func invoke(b *testing.B, h *lambdahandler.Handler, payload []byte) {
	ctx, cancel := context.WithTimeout(b.Context(), benchTimeout)
	defer cancel()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(out, []byte(wantResponse)) {
		b.Fatalf("response %s, want %s", out, wantResponse)
	}
}

// reportPerRecord reports ns/record and records/s over the loop's time.
func reportPerRecord(b *testing.B, records int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N*records)
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(1e9/ns, "records/s")
}

// BenchmarkHandler_Batch10k applies a batch of 10,000 distinct keys (~500-byte
// items) through the handler, the SDK client and a stub answering after 5 ms.
// Target: under 250 ms per batch (25,000 ns/record).
func BenchmarkHandler_Batch10k(b *testing.B) {
	payload := genBatch(b, batch10k)
	h, stub := newStubHandler(b)
	invoke(b, h, payload) // warm the connection pool, as a warm Lambda has
	before := stub.Stats().Items

	for b.Loop() {
		invoke(b, h, payload)
	}
	reportPerRecord(b, batch10k.Records)
	if got, want := stub.Stats().Items-before, int64(b.N*batch10k.Records); got != want {
		b.Fatalf("stub acknowledged %d writes, want %d", got, want)
	}
}

// BenchmarkBaseline_Sequential10k applies the same batch the way most blog
// posts do: decode the events.DynamoDBEvent, then one PutItem or DeleteItem
// per record, in order, with the same client and stub. A 10,000-record batch
// would take about 50 s per iteration, so each iteration applies the first
// baselineRecords records (the same records as BenchmarkHandler_Batch10k's)
// instead. Every step is linear in the records, so ns/record is the honest
// unit to compare with the handler's; s/10k-extrapolated is ns/record times
// 10,000.
func BenchmarkBaseline_Sequential10k(b *testing.B) {
	prefix := batch10k
	prefix.Records = baselineRecords
	payload := genBatch(b, prefix)
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	b.Cleanup(stub.Close)
	client := stub.Client(b)

	for b.Loop() {
		if err := applySequential(b.Context(), client, payload); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b, baselineRecords)
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N*baselineRecords)
	b.ReportMetric(ns*float64(batch10k.Records)/1e9, "s/10k-extrapolated")
	if got, want := stub.Stats().Items, int64(b.N*baselineRecords); got != want {
		b.Fatalf("stub acknowledged %d writes, want %d", got, want)
	}
}

// applySequential is the blog-post handler: one write per record, in order.
func applySequential(ctx context.Context, client *dynamodb.Client, payload []byte) error {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	for _, r := range ev.Records {
		switch r.EventName {
		case "INSERT", "MODIFY":
			item, err := streamImage(r.Change.NewImage)
			if err != nil {
				return err
			}
			if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(benchTable), Item: item}); err != nil {
				return fmt.Errorf("put item: %w", err)
			}
		case "REMOVE":
			key, err := streamImage(r.Change.Keys)
			if err != nil {
				return err
			}
			if _, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(benchTable), Key: key}); err != nil {
				return fmt.Errorf("delete item: %w", err)
			}
		}
	}
	return nil
}

// streamImage converts an events image by re-marshalling it, as STYLE.md
// allows for events types.
func streamImage(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	raw, err := json.Marshal(img)
	if err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	item, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	return item, nil
}

// BenchmarkDecodePlan_6MB times decoding and planning a 6 MB batch of
// 10,000 records without I/O: reading the event, decoding and collapsing
// the keys, checking every record. Images are decoded later, chunk by chunk,
// while earlier chunks are in flight (see BenchmarkHandlerNoIO_6MB). Run
// with -cpu 1. Target: under 100 ms per batch.
func BenchmarkDecodePlan_6MB(b *testing.B) {
	payload := genBatch(b, batch6MB)
	b.SetBytes(int64(len(payload)))

	for b.Loop() {
		plan, err := lambdahandler.DecodePlan(payload)
		if err != nil {
			b.Fatal(err)
		}
		if plan.Keys() != batch6MB.Records {
			b.Fatalf("planned %d writes, want %d", plan.Keys(), batch6MB.Records)
		}
	}
	reportPerRecord(b, batch6MB.Records)
}

// BenchmarkHandlerNoIO_6MB times all of the handler's own work on the 6 MB
// batch with a Writer that writes nothing: event decoding, planning, and
// the NewImage decoding done in the write path.
func BenchmarkHandlerNoIO_6MB(b *testing.B) {
	payload := genBatch(b, batch6MB)
	h := newHandler(nopWriter{})
	b.SetBytes(int64(len(payload)))

	for b.Loop() {
		invoke(b, h, payload)
	}
	reportPerRecord(b, batch6MB.Records)
}

// BenchmarkPeakHeap_6MB samples the heap while the handler applies the 6 MB
// batch, with GOGC at its default, and reports the highest live-object
// bytes seen: peak-heap-MB over the heap before the invocation (which holds
// the payload) and peak-heap-abs-MB in all; heap-goal-MB is the highest GC
// heap goal, near which the GC finishes its cycles. Target: under 64 MB, to run in a
// 128 MB Lambda. "nop" writes nothing; "sdk" writes through the SDK client
// to the 5 ms stub, whose own share of the heap is a few buffers.
func BenchmarkPeakHeap_6MB(b *testing.B) {
	payload := genBatch(b, batch6MB)
	writers := []struct {
		name    string
		handler func(testing.TB) *lambdahandler.Handler
	}{
		{"nop", func(testing.TB) *lambdahandler.Handler { return newHandler(nopWriter{}) }},
		{"sdk", func(tb testing.TB) *lambdahandler.Handler { h, _ := newStubHandler(tb); return h }},
	}
	for _, w := range writers {
		b.Run(w.name, func(b *testing.B) { measurePeakHeap(b, w.handler(b), payload) })
	}
}

// measurePeakHeap invokes h with payload in the benchmark loop, sampling
// the heap, and reports peak-heap-MB, peak-heap-abs-MB and heap-goal-MB
// (see BenchmarkPeakHeap_6MB).
func measurePeakHeap(b *testing.B, h *lambdahandler.Handler, payload []byte) {
	invoke(b, h, payload) // warm up
	var peak heapPeak
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		base := readHeap(nil)
		stop := sampleHeap()
		b.StartTimer()

		invoke(b, h, payload)

		b.StopTimer()
		p := stop()
		peak.delta = max(peak.delta, p.objects-min(base.objects, p.objects))
		peak.objects = max(peak.objects, p.objects)
		peak.goal = max(peak.goal, p.goal)
		b.StartTimer()
	}
	const mb = 1 << 20
	b.ReportMetric(float64(peak.delta)/mb, "peak-heap-MB")
	b.ReportMetric(float64(peak.objects)/mb, "peak-heap-abs-MB")
	b.ReportMetric(float64(peak.goal)/mb, "heap-goal-MB")
}

type heapPeak struct {
	delta, objects, goal uint64
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/goal:bytes"}

// readHeap reads the live-object bytes and the GC heap goal into s (nil:
// a new slice). Unlike runtime.ReadMemStats it does not stop the world.
func readHeap(s []metrics.Sample) heapPeak {
	if s == nil {
		s = make([]metrics.Sample, len(heapMetrics))
		for i, name := range heapMetrics {
			s[i].Name = name
		}
	}
	metrics.Read(s)
	return heapPeak{objects: s[0].Value.Uint64(), goal: s[1].Value.Uint64()}
}

// sampleHeap samples the heap every heapSampleEvery in a goroutine until
// the returned function is called, which returns the highest values seen.
// Sampling can miss the exact peak, so peak-heap is a lower bound; the heap
// goal is the level at which the GC aims to finish, near the true peak.
func sampleHeap() (stop func() heapPeak) {
	done := make(chan struct{})
	result := make(chan heapPeak)
	go func() {
		s := make([]metrics.Sample, len(heapMetrics))
		for i, name := range heapMetrics {
			s[i].Name = name
		}
		tick := time.NewTicker(heapSampleEvery)
		defer tick.Stop()
		var peak heapPeak
		for {
			h := readHeap(s)
			peak.objects = max(peak.objects, h.objects)
			peak.goal = max(peak.goal, h.goal)
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() heapPeak {
		close(done)
		return <-result
	}
}
