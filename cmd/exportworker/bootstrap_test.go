package main

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/exportload/worker"
	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Fixture files: the exact input a Distributed Map child execution of
// template-backfill.yaml passes to the function (its ItemSelector's
// output: Bucket, the manifest-files.json line as File, LinesDone 0), and
// the data file it names.
const (
	childInputFile = "testdata/child-input.json"
	dataFile       = "testdata/0000-3.json.gz"
)

// fixtureItems are the items of the data file.
func fixtureItems() []exporttest.Item {
	return []exporttest.Item{exporttest.AllTypes("a", 1), exporttest.Simple("b", 2, "two"), exporttest.Simple("c", 3, "three")}
}

func TestMain(m *testing.M) { testkit.Main(m) }

// TestFixtures checks that the child input's md5Checksum and itemCount
// are those of the data file (-update rewrites both).
func TestFixtures(t *testing.T) {
	if testkit.Updating() {
		body := exporttest.DataFile(t, fixtureItems(), false)
		require.NoError(t, os.WriteFile(dataFile, body, 0o644))
		sum := md5.Sum(body)
		in := worker.Input{Bucket: "ddbsync-exports"}
		in.File.DataFileS3Key = "backfill/AWSDynamoDB/01764547200000-a1b2c3d4/data/0000-3.json.gz"
		in.File.ItemCount = 3
		in.File.MD5Checksum = base64.StdEncoding.EncodeToString(sum[:])
		in.File.ETag = "0c6a9c1a4d0e8f2b3c5d7e9f1a2b3c4d"
		b, err := json.MarshalIndent(in, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(childInputFile, append(b, '\n'), 0o644))
	}
	in := readInput(t)
	body, err := os.ReadFile(dataFile)
	require.NoError(t, err)
	sum := md5.Sum(body)
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), in.File.MD5Checksum)
	assert.Equal(t, int64(len(fixtureItems())), in.File.ItemCount)
}

func readInput(tb testing.TB) worker.Input {
	tb.Helper()
	b, err := os.ReadFile(childInputFile)
	require.NoError(tb, err)
	var in worker.Input
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(tb, dec.Decode(&in))
	return in
}

// TestBootstrap_ChildInput builds the worker the way `sam build` does,
// runs it under the Runtime Interface Emulator against DynamoDB Local and
// moto_server, and invokes it with the exact input of a Distributed Map
// child: the file is loaded and Done; a second invocation with a wrong
// checksum fails with errorType VerifyError, which the state machine does
// not retry.
func TestBootstrap_ChildInput(t *testing.T) {
	ctx := t.Context()
	db := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	client := db.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, client, ddblocal.TableSpec{Name: "copy", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN})
	require.NoError(t, err)

	s3Endpoint := testkit.Moto(t)
	s3c := exporttest.S3Client(s3Endpoint)
	in := readInput(t)
	exporttest.CreateBucket(t, s3c, in.Bucket)
	body, err := os.ReadFile(dataFile)
	require.NoError(t, err)
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.File.DataFileS3Key), Body: bytes.NewReader(body)})
	require.NoError(t, err)

	bootstrap, err := rie.Build(ctx, "./cmd/exportworker", t.TempDir())
	require.NoError(t, err)
	fn := testkit.StartRIE(t, rie.Options{
		Bootstrap: bootstrap,
		Env: append(db.Env(keyID), "TARGET_TABLE_NAME=copy", "AWS_LAMBDA_LOG_FORMAT=JSON",
			"AWS_ENDPOINT_URL_S3="+s3Endpoint, "S3_USE_PATH_STYLE=true", "STOP_MARGIN_MS=2000", "TMPDIR="+t.TempDir()),
		Timeout: 30 * time.Second,
	})

	payload, err := os.ReadFile(childInputFile)
	require.NoError(t, err)
	resp, err := fn.Invoke(ctx, payload)
	require.NoError(t, err, "function logs:\n%s", fn.Logs())
	assert.JSONEq(t, `{"Key":"`+in.File.DataFileS3Key+`","Items":3,"Written":3,"LinesDone":3,"Done":true,"Retries":0}`, string(resp))
	for _, want := range fixtureItems() {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("copy"), Key: exporttest.Item{"pk": want["pk"], "sk": want["sk"]}, ConsistentRead: aws.Bool(true)})
		require.NoError(t, err)
		assert.True(t, tablecmp.EqualItems(want, out.Item), "%v", tablecmp.DiffItems(want, out.Item))
	}

	bad := in
	bad.File.MD5Checksum = base64.StdEncoding.EncodeToString(make([]byte, md5.Size))
	badPayload, err := json.Marshal(bad)
	require.NoError(t, err)
	_, err = fn.Invoke(ctx, badPayload)
	var fe *lambdainvoke.FunctionError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "VerifyError", fe.Type)
	assert.Contains(t, fe.Message, "checksum mismatch")
}
