package tablesync_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Benchmark sizes: items of about 250 bytes.
const (
	benchLocalItems = 10000 // DynamoDB Local
	benchStubItems  = 20000 // the 5 ms stand-ins
	benchLatency    = 5 * time.Millisecond
)

var benchSegments = []int{2, 8, 32}

func benchItem(i int) item {
	return item{
		"pk":    s(fmt.Sprintf("item-%05d", i%1000)),
		"sk":    n(strconv.Itoa(i)),
		"body":  s(strings.Repeat("x", 180)),
		"count": n(strconv.Itoa(i * 7)),
		"tags":  &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ok":    &types.AttributeValueMemberBOOL{Value: i%2 == 0},
	}
}

func benchItems(count int) []item {
	items := make([]item, count)
	for i := range items {
		items[i] = benchItem(i)
	}
	return items
}

// benchLocal seeds DynamoDB Local once: "source" and an identical "copy"
// (for verify), and an empty "target" (for backfill).
var benchLocal = sync.OnceValue(func() func(b *testing.B) *dynamodb.Client {
	var db *dynamodb.Client
	return func(b *testing.B) *dynamodb.Client {
		if db == nil {
			db = localDB(b)
			createTables(b, db, "", "source", "copy", "target")
			items := benchItems(benchLocalItems)
			seed(b, db, "source", items)
			seed(b, db, "copy", items)
		}
		return db
	}
})

// reportRate reports items a second over the benchmark's loop.
func reportRate(b *testing.B, items int64) {
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBackfill measures backfill throughput (Scan + BatchWriteItem)
// against DynamoDB Local, and against stand-ins answering every call after
// 5 ms: the read stand-in of this package for Scan and internal/ddbstub
// for BatchWriteItem through dynamo.Table.
func BenchmarkBackfill(b *testing.B) {
	for _, segs := range benchSegments {
		b.Run(fmt.Sprintf("local/segments=%d", segs), func(b *testing.B) {
			db := benchLocal()(b)
			target := dynamo.NewTable(db, "target", dynamo.Options{})
			var copied int64
			for b.Loop() {
				res, err := tablesync.Backfill(b.Context(), db, "source", target, "target", tablesync.BackfillOptions{
					Segments: tablesync.Segments{Total: segs, Concurrency: segs},
				})
				if err != nil {
					b.Fatal(err)
				}
				copied += res.Copied
			}
			reportRate(b, copied)
		})
	}
	for _, segs := range benchSegments {
		b.Run(fmt.Sprintf("stub5ms/segments=%d", segs), func(b *testing.B) {
			src := newReadStub(b, benchLatency)
			src.load(b, "source", benchItems(benchStubItems))
			dst := ddbstub.New(ddbstub.Options{Latency: benchLatency})
			b.Cleanup(dst.Close)
			target := dynamo.NewTable(stubClient(b, dst.URL()), "target", dynamo.Options{})
			var copied int64
			for b.Loop() {
				res, err := tablesync.Backfill(b.Context(), src.client(b), "source", target, "target", tablesync.BackfillOptions{
					Segments: tablesync.Segments{Total: segs, Concurrency: segs},
				})
				if err != nil {
					b.Fatal(err)
				}
				copied += res.Copied
			}
			reportRate(b, copied)
		})
	}
}

// BenchmarkVerify measures verify throughput (both scans and the
// BatchGetItem lookups of both passes) over two identical tables; items/s
// counts the source's items.
func BenchmarkVerify(b *testing.B) {
	for _, segs := range benchSegments {
		b.Run(fmt.Sprintf("local/segments=%d", segs), func(b *testing.B) {
			db := benchLocal()(b)
			var checked int64
			for b.Loop() {
				res, err := tablesync.Verify(b.Context(), db, "source", db, "copy", tablesync.VerifyOptions{
					Segments: tablesync.Segments{Total: segs, Concurrency: segs},
				})
				if err != nil || !res.Identical() {
					b.Fatal(err, res)
				}
				checked += res.SourceItems
			}
			reportRate(b, checked)
		})
	}
	for _, segs := range benchSegments {
		b.Run(fmt.Sprintf("stub5ms/segments=%d", segs), func(b *testing.B) {
			stub := newReadStub(b, benchLatency)
			items := benchItems(benchStubItems)
			stub.load(b, "source", items)
			stub.load(b, "copy", items)
			client := stub.client(b)
			var checked int64
			for b.Loop() {
				res, err := tablesync.Verify(b.Context(), client, "source", client, "copy", tablesync.VerifyOptions{
					Segments: tablesync.Segments{Total: segs, Concurrency: segs},
				})
				if err != nil || !res.Identical() {
					b.Fatal(err, res)
				}
				checked += res.SourceItems
			}
			reportRate(b, checked)
		})
	}
}

// BenchmarkRepair measures repair throughput against DynamoDB Local: each
// loop makes benchRepairKeys target items stale (half of them on a
// queue-path target, with the sequence attribute) and repairs them, 16 keys
// at once; items/s counts keys repaired (reads of both tables, a
// conditional put, and the re-read that confirms it).
func BenchmarkRepair(b *testing.B) {
	const benchRepairKeys = 2000
	for _, queue := range []bool{false, true} {
		b.Run(fmt.Sprintf("local/queue-target=%t", queue), func(b *testing.B) {
			db := localDB(b)
			createTables(b, db, "", "source", "target")
			items := benchItems(benchRepairKeys)
			seed(b, db, "source", items)
			stale := make([]item, len(items))
			for i, it := range items {
				old := item{}
				for k, v := range it {
					old[k] = v
				}
				old["count"] = n("-1")
				if queue {
					old["_ddbsync_seq"] = s(strings.Repeat("0", 40) + "00000100")
				}
				stale[i] = old
			}
			var repaired int64
			for b.Loop() {
				b.StopTimer()
				seed(b, db, "target", stale)
				b.StartTimer()
				rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
				keys := make(chan item)
				go func() {
					defer close(keys)
					for _, it := range items {
						keys <- item{"pk": it["pk"], "sk": it["sk"]}
					}
				}()
				if err := rep.RepairAll(b.Context(), keys, 16, nil); err != nil {
					b.Fatal(err)
				}
				if st := rep.Stats(); st.Puts != benchRepairKeys || st.Failed != 0 {
					b.Fatalf("%+v", st)
				}
				repaired += benchRepairKeys
			}
			reportRate(b, repaired)
		})
	}
}
