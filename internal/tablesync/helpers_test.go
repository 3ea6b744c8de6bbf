package tablesync_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

type (
	av   = types.AttributeValue
	item = map[string]types.AttributeValue
)

// One DynamoDB Local serves the package's tests, each in its own database
// (access key id). It starts on first use.
var (
	localOnce sync.Once
	local     *ddblocal.Server
	localErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if local != nil {
		if err := local.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close dynamodb local:", err)
		}
	}
	os.Exit(code)
}

// localDB returns a client of DynamoDB Local in a database of tb's own.
func localDB(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	localOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		local, localErr = ddblocal.Start(ctx, ddblocal.Options{})
	})
	if localErr != nil {
		tb.Fatal(localErr) // never skip: these tests run everywhere, CI included
	}
	// Like ddblocal's client, with a connection pool for every call a
	// 32-segment backfill or verify has in flight (the SDK keeps 10).
	tr := awshttp.NewBuildableClient().GetTransport()
	tr.MaxIdleConnsPerHost = 256
	tb.Cleanup(tr.CloseIdleConnections)
	return dynamodb.NewFromConfig(local.AWSConfig(testkit.AccessKeyID(tb)), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(local.Endpoint)
		o.DisableValidateResponseChecksum = true
		o.HTTPClient = &http.Client{Transport: tr}
	})
}

// createTables creates tables with a composite key: pk (S) and sk (N).
func createTables(tb testing.TB, db *dynamodb.Client, stream types.StreamViewType, names ...string) {
	tb.Helper()
	for _, name := range names {
		_, err := ddblocal.CreateTable(tb.Context(), db, ddblocal.TableSpec{
			Name: name, HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN, StreamViewType: stream,
		})
		require.NoError(tb, err)
	}
}

func s(v string) av { return &types.AttributeValueMemberS{Value: v} }
func n(v string) av { return &types.AttributeValueMemberN{Value: v} }
func key(i int) item {
	return item{"pk": s(fmt.Sprintf("item-%05d", i%1000)), "sk": n(strconv.Itoa(i))}
}
func idOf(it item) string {
	return it["pk"].(*types.AttributeValueMemberS).Value + "/" + it["sk"].(*types.AttributeValueMemberN).Value
}

// genItem returns item i: every attribute type, most items small (100 to
// 400 bytes), every 499th about 10 KB and every 4,999th about 100 KB.
func genItem(i int) item {
	it := key(i)
	size := 20 + i%200
	switch {
	case i%4999 == 0:
		size = 100 << 10
	case i%499 == 0:
		size = 10 << 10
	}
	it["s"] = s(strings.Repeat(string(rune('a'+i%26)), size))
	it["n"] = n(fmt.Sprintf("%d.%d", i, i%7))
	it["b"] = &types.AttributeValueMemberB{Value: []byte{byte(i), byte(i >> 8), 0, 255}}
	it["ok"] = &types.AttributeValueMemberBOOL{Value: i%2 == 0}
	if i%3 == 0 {
		it["nothing"] = &types.AttributeValueMemberNULL{Value: true}
	}
	it["ss"] = &types.AttributeValueMemberSS{Value: []string{"x", "y" + strconv.Itoa(i%5)}}
	it["ns"] = &types.AttributeValueMemberNS{Value: []string{"1", strconv.Itoa(i%9 + 2), "-3.5"}}
	it["bs"] = &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, byte(i)}}}
	it["l"] = &types.AttributeValueMemberL{Value: []av{s("first"), n("2"), &types.AttributeValueMemberBOOL{Value: true}}}
	it["m"] = &types.AttributeValueMemberM{Value: item{
		"inner": &types.AttributeValueMemberM{Value: item{"depth": n("2"), "tags": &types.AttributeValueMemberSS{Value: []string{"a", "b"}}}},
		"count": n(strconv.Itoa(i % 11)),
	}}
	return it
}

// seed writes items to table with the replicator's writer, several batches
// at once.
func seed(tb testing.TB, db *dynamodb.Client, table string, items []item) {
	tb.Helper()
	w := dynamo.NewTable(db, table, dynamo.Options{})
	ctx := tb.Context()
	const writers = 16
	chunks := make(chan []item)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for chunk := range chunks {
				writes := make([]replicate.Write, len(chunk))
				for i, it := range chunk {
					k := item{"pk": it["pk"], "sk": it["sk"]}
					id, _ := replicate.KeyID(k)
					writes[i] = replicate.Write{Op: replicate.OpPut, Key: k, KeyID: id, Item: it}
				}
				for _, err := range first(w.WriteBatch(ctx, writes)) {
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}
		})
	}
	for lo := 0; lo < len(items); lo += replicate.MaxBatchWrites {
		chunks <- items[lo:min(lo+replicate.MaxBatchWrites, len(items))]
	}
	close(chunks)
	wg.Wait()
	close(errs)
	require.NoError(tb, <-errs)
}

func first[A, B any](a A, _ B) A { return a }

// scanAll returns every item of table by id.
func scanAll(tb testing.TB, db *dynamodb.Client, table string) map[string]item {
	tb.Helper()
	out := map[string]item{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(tb.Context())
		require.NoError(tb, err)
		for _, it := range page.Items {
			out[idOf(it)] = it
		}
	}
	return out
}

func put(tb testing.TB, db *dynamodb.Client, table string, it item) {
	tb.Helper()
	_, err := db.PutItem(tb.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
	require.NoError(tb, err)
}

func del(tb testing.TB, db *dynamodb.Client, table string, k item) {
	tb.Helper()
	_, err := db.DeleteItem(tb.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: k})
	require.NoError(tb, err)
}

// collect returns an OnDifference that gathers differences.
func collect() (func(context.Context, tablesync.Difference) error, func() []tablesync.Difference) {
	var mu sync.Mutex
	var diffs []tablesync.Difference
	return func(_ context.Context, d tablesync.Difference) error {
			mu.Lock()
			defer mu.Unlock()
			diffs = append(diffs, d)
			return nil
		}, func() []tablesync.Difference {
			mu.Lock()
			defer mu.Unlock()
			return append([]tablesync.Difference(nil), diffs...)
		}
}
