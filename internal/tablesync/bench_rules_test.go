package tablesync_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// benchRules reshape the benchmark's items and keep their key, so that
// both tables have the stand-in's key schema.
const benchRules = `rules:
  - filter: count >= 0
  - exclude: [ok]
  - rename: {body: text}
`

// BenchmarkRules compares backfill and verify against the 5 ms stand-ins
// without rules and with benchRules (a filter, an exclude and a rename on
// every item; verify's target pass maps each target item back to its
// source key and reads that source item).
func BenchmarkRules(b *testing.B) {
	rs, err := rules.Parse("bench.yaml", []byte(benchRules))
	if err != nil {
		b.Fatal(err)
	}
	items := benchItems(benchStubItems)
	copied := make([]item, len(items))
	for i, it := range items {
		_, out, _, err := rs.Target(it, item{"pk": it["pk"], "sk": it["sk"]})
		if err != nil {
			b.Fatal(err)
		}
		copied[i] = maps.Clone(out)
	}
	for _, tc := range []struct {
		name string
		rs   *rules.RuleSet
		copy []item
	}{{"none", nil, items}, {"rules", rs, copied}} {
		b.Run("backfill/"+tc.name, func(b *testing.B) {
			src := newReadStub(b, benchLatency)
			src.load(b, "source", items)
			dst := ddbstub.New(ddbstub.Options{Latency: benchLatency})
			b.Cleanup(dst.Close)
			target := dynamo.NewTable(stubClient(b, dst.URL()), "target", dynamo.Options{})
			var n int64
			for b.Loop() {
				res, err := tablesync.Backfill(b.Context(), src.client(b), "source", target, "target", tablesync.BackfillOptions{
					Segments: tablesync.Segments{Total: 8, Concurrency: 8}, Rules: tc.rs,
				})
				if err != nil {
					b.Fatal(err)
				}
				n += res.Copied
			}
			reportRate(b, n)
		})
		b.Run("verify/"+tc.name, func(b *testing.B) {
			stub := newReadStub(b, benchLatency)
			stub.load(b, "source", items)
			stub.load(b, "copy", tc.copy)
			client := stub.client(b)
			var n int64
			for b.Loop() {
				res, err := tablesync.Verify(b.Context(), client, "source", client, "copy", tablesync.VerifyOptions{
					Segments: tablesync.Segments{Total: 8, Concurrency: 8}, Rules: tc.rs,
				})
				if err != nil || !res.Identical() {
					b.Fatal(err, fmt.Sprint(res))
				}
				n += res.SourceItems
			}
			reportRate(b, n)
		})
	}
}
