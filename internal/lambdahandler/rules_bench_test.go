package lambdahandler_test

import (
	"encoding/base64"
	"testing"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// The rule sets of the rules benchmarks, over the generated items: a
// typical set in the shape of examples/rules/orders.yaml (a filter, a
// projection, a rename, a re-key). The filter keeps every generated item,
// so every record is evaluated and written: the dearest case. The key rule
// needs old images, which a 6 MB batch of 10,000 records has no room for,
// so the 6 MB batch takes the same set with a computed attribute instead.
const (
	benchRulesKeyed = `rules:
  - name: with-address
    filter: has(item.addr) && item.addr.city != "atlantis"
  - exclude: [avatar]
  - rename: {tags: labels}
  - key: {pk: 'pk + "#" + string(sk)'}
  - exclude: [sk]
`
	benchRulesNoKey = `rules:
  - name: with-address
    filter: has(item.addr) && item.addr.city != "atlantis"
  - exclude: [avatar]
  - rename: {tags: labels}
  - set: {city: 'item.addr.city'}
`
)

func benchRuleSet(b *testing.B, src string) *rules.RuleSet {
	b.Helper()
	rs, err := rules.Parse("bench", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// ruleCases are the two runs compared in one benchmark: no rule set and
// the typical one.
func ruleCases(b *testing.B, src string) []struct {
	name string
	rs   *rules.RuleSet
} {
	return []struct {
		name string
		rs   *rules.RuleSet
	}{{"none", nil}, {"rules", benchRuleSet(b, src)}}
}

func newRulesHandler(w replicate.Writer, rs *rules.RuleSet) *lambdahandler.Handler {
	return lambdahandler.New(replicate.New(w, replicate.Options{Rules: rs}), lambdahandler.Options{TargetTable: benchTable})
}

// BenchmarkRules_Batch10k applies the 10,000-record batch (both images)
// through the SDK client to the 5 ms stub without rules and with the
// typical rule set, in the same run: records/s of each.
func BenchmarkRules_Batch10k(b *testing.B) {
	payload := genBatch(b, batch10k)
	for _, c := range ruleCases(b, benchRulesKeyed) {
		b.Run(c.name, func(b *testing.B) {
			stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
			b.Cleanup(stub.Close)
			h := newRulesHandler(dynamo.NewTable(stub.Client(b), benchTable, dynamo.Options{}), c.rs)
			invoke(b, h, payload) // warm the connection pool
			for b.Loop() {
				invoke(b, h, payload)
			}
			reportPerRecord(b, batch10k.Records)
		})
	}
}

// BenchmarkRulesNoIO_10k times the handler's own work on the same batch
// with a writer that writes nothing, without rules and with them: the CPU
// the rule set costs. Run with -cpu 1.
func BenchmarkRulesNoIO_10k(b *testing.B) {
	payload := genBatch(b, batch10k)
	for _, c := range ruleCases(b, benchRulesKeyed) {
		b.Run(c.name, func(b *testing.B) {
			h := newRulesHandler(nopWriter{}, c.rs)
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				invoke(b, h, payload)
			}
			reportPerRecord(b, batch10k.Records)
		})
	}
}

// BenchmarkPeakHeap_6MBRules is BenchmarkPeakHeap_6MB with the typical
// rule set (without its key rule: the 6 MB batch has no old images),
// through the SDK client to the 5 ms stub. Target: under 64 MB, to run in
// a 128 MB Lambda.
func BenchmarkPeakHeap_6MBRules(b *testing.B) {
	payload := genBatch(b, batch6MB)
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	b.Cleanup(stub.Close)
	h := newRulesHandler(dynamo.NewTable(stub.Client(b), benchTable, dynamo.Options{}), benchRuleSet(b, benchRulesNoKey))
	measurePeakHeap(b, h, payload)
}

// BenchmarkPeakHeap_6MBRulesKeyed is a 6 MB batch with both images (the
// MODIFYs carry an old image, as a NEW_AND_OLD_IMAGES stream delivers
// them; 8,000 records, the most of the generator's items that fit) and
// the typical rule set with its key rule, which decodes both images of
// every MODIFY. Target: under 64 MB, to run in a 128 MB Lambda.
func BenchmarkPeakHeap_6MBRulesKeyed(b *testing.B) {
	payload := genBatch(b, batchSpec{Records: 8000, TotalBytes: 6 << 20, Compact: true, OldImages: true})
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	b.Cleanup(stub.Close)
	h := newRulesHandler(dynamo.NewTable(stub.Client(b), benchTable, dynamo.Options{}), benchRuleSet(b, benchRulesKeyed))
	b.ReportMetric(float64(len(payload))/(1<<20), "payload-MB")
	measurePeakHeap(b, h, payload)
}

// BenchmarkBootstrap_6MBRules is BenchmarkBootstrap_6MB's mem128 run with
// RULES set to the typical rule set: the built bootstrap under the
// emulator with the soft memory limit of a 128 MB function, the 6 MB
// batch of 10,000 records against the 5 ms stub. peak-RSS-MB must stay
// well under 128.
func BenchmarkBootstrap_6MBRules(b *testing.B) {
	payload := genBatch(b, batch6MB)
	bootstrap, err := rie.Build(b.Context(), "./cmd/replicator", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchBootstrap(b, bootstrap, payload, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"RULES="+base64.StdEncoding.EncodeToString([]byte(benchRulesNoKey)))
	reportPerRecord(b, batch6MB.Records)
}
