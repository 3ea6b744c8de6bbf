package exportload_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	testkit.Main(m)
}

// buckets makes bucket names unique in the shared moto_server.
var buckets atomic.Int64

// newBucket returns an S3 client for the shared moto_server and a new
// bucket in it.
func newBucket(tb testing.TB) (*s3.Client, string) {
	tb.Helper()
	client := exporttest.S3Client(testkit.SharedMoto(tb))
	name := "export-" + strconv.FormatInt(buckets.Add(1), 10)
	exporttest.CreateBucket(tb, client, name)
	return client, name
}

// newDB returns a DynamoDB client of its own database in the shared
// DynamoDB Local, and the access key id.
func newDB(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	keyID := testkit.NewAccessKeyID(tb)
	return testkit.DDB(tb).DynamoDB(keyID), keyID
}

// createTable creates a table keyed on pk (S) and sk (N).
func createTable(tb testing.TB, db *dynamodb.Client, name string, stream bool) string {
	tb.Helper()
	spec := ddblocal.TableSpec{Name: name, HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN}
	if stream {
		spec.StreamViewType = types.StreamViewTypeNewAndOldImages
	}
	arn, err := ddblocal.CreateTable(context.Background(), db, spec)
	require.NoError(tb, err)
	return arn
}

// written returns how many writes w took, in all calls (each applied: the
// loader's batches have distinct keys and no write of them is rejected).
func written(w *replicatetest.MemWriter) int {
	n := 0
	for _, c := range w.Calls {
		n += c
	}
	return n
}

// countingAPI wraps DynamoDB's write API and counts the put requests of
// each key (pk/sk), so that a test can see every item written once.
type countingAPI struct {
	*dynamodb.Client
	mu   sync.Mutex
	puts map[string]int
}

func newCountingAPI(c *dynamodb.Client) *countingAPI {
	return &countingAPI{Client: c, puts: map[string]int{}}
}

func (c *countingAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := c.Client.BatchWriteItem(ctx, in, optFns...)
	if err == nil {
		c.mu.Lock()
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest != nil {
					c.puts[keyString(r.PutRequest.Item)]++
				}
			}
		}
		// Unprocessed requests were not written: DynamoDB Local never
		// leaves any, so there is nothing to subtract.
		c.mu.Unlock()
	}
	return out, err
}

func keyString(item map[string]types.AttributeValue) string {
	pk := item["pk"].(*types.AttributeValueMemberS).Value
	sk := item["sk"].(*types.AttributeValueMemberN).Value
	return pk + "/" + sk
}

func (c *countingAPI) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.puts))
	for k, v := range c.puts {
		out[k] = v
	}
	return out
}
