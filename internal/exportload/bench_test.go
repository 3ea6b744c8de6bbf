package exportload_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
)

// BenchmarkLoad loads an export of 8 files of 2,500 items (served by
// moto_server) with 1 to 8 workers, into the 5 ms stand-in (ddbstub:
// every BatchWriteItem answered after 5 ms, like DynamoDB in the same
// region) and into DynamoDB Local, and reports items/s in all and per
// worker. Run it with -benchtime=1x or 2x: one iteration is 20,000 items.
func BenchmarkLoad(b *testing.B) {
	const nFiles, perFile = 8, 2500
	s3c, bucket := newBucket(b)
	dir, _ := exporttest.Write(b, s3c, bucket, "bench", genFiles(nFiles, perFile), exporttest.Options{})
	stub := ddbstub.New(ddbstub.Options{Latency: 5 * time.Millisecond})
	b.Cleanup(stub.Close)
	db, _ := newDB(b)
	createTable(b, db, "target", false)
	targets := map[string]dynamo.API{"stub5ms": stub.Client(b), "ddblocal": db}
	for _, target := range []string{"stub5ms", "ddblocal"} {
		for _, workers := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", target, workers), func(b *testing.B) {
				cfg := loadConfig(b, s3c, bucket, dir, targets[target], "target")
				cfg.Workers = workers
				b.ResetTimer()
				for range b.N {
					rep, err := exportload.Load(b.Context(), cfg)
					require.NoError(b, err)
					require.Equal(b, int64(nFiles*perFile), rep.ItemsWritten)
				}
				perSec := float64(b.N*nFiles*perFile) / b.Elapsed().Seconds()
				b.ReportMetric(perSec, "items/s")
				b.ReportMetric(perSec/float64(workers), "items/s/worker")
			})
		}
	}
}
