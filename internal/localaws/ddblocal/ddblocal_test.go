package ddblocal_test

import (
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

func TestServer(t *testing.T) {
	start := time.Now()
	s := testkit.StartDDB(t)
	t.Logf("install and start took %s", time.Since(start))

	u, err := url.Parse(s.Endpoint)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", u.Hostname())

	t.Run("listens on loopback only", func(t *testing.T) {
		port, err := strconv.Atoi(u.Port())
		require.NoError(t, err)
		addrs := listenAddrs(t, port)
		require.NotEmpty(t, addrs, "no listening socket on port %d", port)
		for _, ip := range addrs {
			assert.True(t, ip.IsLoopback(), "listening on %s", ip)
		}
	})

	t.Run("table with stream", func(t *testing.T) {
		ctx := t.Context()
		id := testkit.AccessKeyID(t)
		db := s.DynamoDB(id)
		arn, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{
			Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewAndOldImages,
		})
		require.NoError(t, err)
		assert.Contains(t, arn, ":table/source/stream/")

		item := map[string]types.AttributeValue{
			"pk":    &types.AttributeValueMemberS{Value: "a"},
			"count": &types.AttributeValueMemberN{Value: "1"},
		}
		_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: item})
		require.NoError(t, err)
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String("source"),
			Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
			ConsistentRead: aws.Bool(true),
		})
		require.NoError(t, err)
		assert.Equal(t, item, got.Item)

		records := readStream(t, s.Streams(id), arn)
		require.Len(t, records, 1)
		assert.Equal(t, streamtypes.OperationTypeInsert, records[0].EventName)
		assert.Equal(t, streamtypes.StreamViewTypeNewAndOldImages, records[0].Dynamodb.StreamViewType)
	})

	t.Run("databases per access key id", func(t *testing.T) {
		ctx := t.Context()
		_, err := ddblocal.CreateTable(ctx, s.DynamoDB(testkit.AccessKeyID(t)), ddblocal.TableSpec{
			Name: "events", HashKey: "id", HashType: types.ScalarAttributeTypeN,
			RangeKey: "at", RangeType: types.ScalarAttributeTypeB,
		})
		require.NoError(t, err)
		for _, id := range []string{testkit.AccessKeyID(t), "other"} {
			out, err := s.DynamoDB(id).ListTables(ctx, &dynamodb.ListTablesInput{})
			require.NoError(t, err)
			if id == "other" {
				assert.Empty(t, out.TableNames)
			} else {
				assert.Equal(t, []string{"events"}, out.TableNames)
			}
		}
	})

	t.Run("env", func(t *testing.T) {
		env := s.Env("key")
		assert.Contains(t, env, "AWS_ENDPOINT_URL_DYNAMODB="+s.Endpoint)
		assert.Contains(t, env, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS="+s.Endpoint)
		assert.Contains(t, env, "AWS_ACCESS_KEY_ID=key")
		assert.Contains(t, env, "AWS_REGION=us-east-1")
	})

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")
	_, err = net.DialTimeout("tcp", u.Host, time.Second)
	assert.Error(t, err, "server still answers after Close")
}

func TestAccessKeyID(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"a", "a_b", "ab", "with space", "dash-and.dot", strings.Repeat("x", 80)} {
		t.Run(name, func(t *testing.T) {
			id := testkit.AccessKeyID(t)
			for _, r := range id {
				assert.True(t, r < 128 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'),
					"id %q has %q", id, r)
			}
			assert.LessOrEqual(t, len(id), 48)
			assert.Equal(t, id, testkit.AccessKeyID(t), "stable")
			assert.NotContains(t, seen, id, "also the id of %s", seen[id])
			seen[id] = t.Name()
		})
	}
}

func TestInstall(t *testing.T) {
	dir, err := ddblocal.Install(t.Context(), "")
	require.NoError(t, err)
	want, err := ddblocal.DefaultDir()
	require.NoError(t, err)
	assert.Equal(t, want, dir)
	for _, name := range []string{"DynamoDBLocal.jar", "DynamoDBLocal_lib", "classes/LoopbackMain.class", ".installed"} {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.NoError(t, err)
	}
}

// readStream reads every record in the stream's shards, polling each open
// shard until an empty read.
func readStream(tb testing.TB, client *dynamodbstreams.Client, arn string) []streamtypes.Record {
	tb.Helper()
	ctx := tb.Context()
	desc, err := client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	require.NoError(tb, err)
	var records []streamtypes.Record
	for _, shard := range desc.StreamDescription.Shards {
		it, err := client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         aws.String(arn),
			ShardId:           shard.ShardId,
			ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		require.NoError(tb, err)
		for iter := it.ShardIterator; iter != nil; {
			out, err := client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			require.NoError(tb, err)
			if len(out.Records) == 0 {
				break // the open shard always returns a next iterator
			}
			records = append(records, out.Records...)
			iter = out.NextShardIterator
		}
	}
	return records
}

// listenAddrs returns the local addresses of the TCP sockets listening on
// port, read from /proc/net/tcp and /proc/net/tcp6.
func listenAddrs(tb testing.TB, port int) []net.IP {
	tb.Helper()
	const stateListen = "0A"
	var ips []net.IP
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		require.NoError(tb, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != stateListen {
				continue
			}
			addr, portHex, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(portHex, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			raw, err := hex.DecodeString(addr)
			require.NoError(tb, err)
			// The kernel prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(raw); i += 4 {
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			ips = append(ips, net.IP(raw))
		}
	}
	return ips
}
