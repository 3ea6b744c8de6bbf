package exportload_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// TestHandOver_EndToEnd is the gap-free promise end to end on DynamoDB
// Local: a snapshot of the source at T is exported (in the documented
// format), the source keeps changing while the snapshot is loaded, and
// only then is the stream applied from T minus the overlap (streampoll
// with StartAt, the replicator's handler in process, as `ddbsync run`
// does). Once the writes stop and replication is idle, verify finds no
// difference.
func TestHandOver_EndToEnd(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	ctx := t.Context()
	db, keyID := newDB(t)
	spec := ddblocal.TableSpec{Name: "source", HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN,
		StreamViewType: types.StreamViewTypeNewAndOldImages}
	streamARN, err := ddblocal.CreateTable(ctx, db, spec)
	require.NoError(t, err)
	spec.Name, spec.StreamViewType = "target", ""
	_, err = ddblocal.CreateTable(ctx, db, spec)
	require.NoError(t, err)

	_, err = demo.Workload{Table: "source", Keys: 300, Seed: 1}.Run(ctx, db, 1500)
	require.NoError(t, err)

	// The export: the source at T, in four data files.
	exportTime := time.Now()
	snapshot := scanItems(t, db, "source")
	files := make([][]exporttest.Item, 4)
	for i, item := range snapshot {
		files[i%4] = append(files[i%4], item)
	}
	s3c, bucket := newBucket(t)
	dir, _ := exporttest.Write(t, s3c, bucket, "e2e", files, exporttest.Options{ExportTime: exportTime})

	// Live changes during the load.
	live := make(chan error, 1)
	go func() {
		_, err := demo.Workload{Table: "source", Keys: 300, Seed: 2}.Run(ctx, db, 1500)
		live <- err
	}()
	exp, err := exportload.ReadExport(ctx, s3c, bucket, dir)
	require.NoError(t, err)
	rep, err := exportload.Load(ctx, exportload.Config{
		Export:      exp,
		Loader:      &exportload.FileLoader{S3: s3c, Writer: dynamo.NewTable(db, "target", dynamo.Options{}), Keys: []string{demo.PartitionKey, demo.SortKey}},
		TargetTable: "target",
		Workers:     2,
	})
	require.NoError(t, err)
	assert.Equal(t, int64(len(snapshot)), rep.ItemsWritten)

	// The hand-over: the stream from T minus the overlap, after the load.
	table := dynamo.NewTable(db, "target", dynamo.Options{})
	h := lambdahandler.New(replicate.New(table, replicate.Options{}), lambdahandler.Options{TargetTable: "target"})
	p := streampoll.New(testkit.DDB(t).Streams(keyID), h, streampoll.Options{
		StreamARN: streamARN, StartAt: rep.HandOver.StreamStart, MaxRetries: streampoll.RetryForever,
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	require.NoError(t, <-live)
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, p.WaitIdle(waitCtx, time.Second))
	stop()
	require.NoError(t, <-ran)

	res, err := tablesync.Compare(ctx, db, "source", db, "target", tablesync.CompareOptions{})
	require.NoError(t, err)
	t.Logf("snapshot %d items; poller %+v; %s", len(snapshot), p.Stats(), res)
	assert.True(t, res.Identical(), "%s; examples %+v", res, res.Examples)
}

// scanItems reads every item of table, sorted by key.
func scanItems(tb testing.TB, db *dynamodb.Client, table string) []exporttest.Item {
	tb.Helper()
	var items []exporttest.Item
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(tb, err)
		items = append(items, page.Items...)
	}
	key := func(it exporttest.Item) string {
		return it[demo.PartitionKey].(*types.AttributeValueMemberS).Value + "/" + it[demo.SortKey].(*types.AttributeValueMemberN).Value
	}
	sort.Slice(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	return items
}
