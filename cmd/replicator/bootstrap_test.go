package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestBootstrap_SampleEvents builds the function the way `sam build` does,
// runs it under the Lambda Runtime Interface Emulator (what `sam local
// invoke` runs in its container) against DynamoDB Local, and POSTs each
// sample event of events/.
func TestBootstrap_SampleEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	client := db.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, client, ddblocal.TableSpec{Name: "orders-copy", HashKey: "pk", RangeKey: "sk"})
	require.NoError(t, err)

	bootstrap := testkit.Bootstrap(t, "./cmd/replicator")
	fn := testkit.StartRIE(t, rie.Options{
		Bootstrap: bootstrap,
		Env:       append(db.Env(keyID), "TARGET_TABLE_NAME=orders-copy", "AWS_LAMBDA_LOG_FORMAT=JSON"),
		Timeout:   30 * time.Second,
	})

	// Each step's event and the items the table must hold afterwards.
	steps := []struct {
		event string
		want  map[string]string // "pk/sk" -> event file holding its last NewImage
	}{
		{"insert", map[string]string{"order#1001/2026-11-27": "insert"}},
		{"modify", map[string]string{"order#1001/2026-11-27": "modify"}},
		{"remove", map[string]string{}},
		{"mixed-batch", map[string]string{"order#2001/a": "mixed-batch", "order#2003/a": "mixed-batch", "cart#9/b": "mixed-batch"}},
	}
	for _, step := range steps {
		t.Run(step.event, func(t *testing.T) {
			resp, err := fn.Invoke(ctx, readEvent(t, step.event))
			require.NoError(t, err, "function logs:\n%s", fn.Logs())
			assert.JSONEq(t, `{"batchItemFailures":[]}`, string(resp))

			items := scan(t, client, "orders-copy")
			assert.Len(t, items, len(step.want))
			for id, file := range step.want {
				want := lastImage(t, file, id)
				got, ok := items[id]
				if assert.True(t, ok, "item %s missing", id) {
					assert.True(t, tablecmp.EqualItems(want, got), "item %s differs in %v", id, tablecmp.DiffItems(want, got))
				}
			}
		})
	}

	t.Run("ttl-remove", func(t *testing.T) {
		seed := lastImage(t, "ttl-remove", "")
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders-copy"), Item: seed})
		require.NoError(t, err)
		resp, err := fn.Invoke(ctx, readEvent(t, "ttl-remove"))
		require.NoError(t, err)
		assert.JSONEq(t, `{"batchItemFailures":[]}`, string(resp))
		_, present := scan(t, client, "orders-copy")["session#42/2026-11-26"]
		assert.False(t, present, "the TTL-expired item is deleted from the copy")
		assertLogs(t, fn, `"ttlDeletes":1`)
	})

	assertLogs(t, fn, `"Namespace":"ddbsync"`) // one EMF line per invocation
	assertLogs(t, fn, `"message":"batch applied"`)
}

// assertLogs waits for the function's output to contain want: the emulator
// may pass a log line on a moment after the invocation returns.
func assertLogs(tb testing.TB, fn *rie.Emulator, want string) {
	tb.Helper()
	assert.Eventually(tb, func() bool { return strings.Contains(fn.Logs(), want) }, 5*time.Second, 20*time.Millisecond,
		"function logs lack %s", want)
}

// TestBootstrap_PartialFailure shows a poison record (its key does not fit
// the target's key schema, so DynamoDB answers ValidationException) reported
// by its sequence number while the other records are applied.
func TestBootstrap_PartialFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	client := db.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, client, ddblocal.TableSpec{Name: "orders-copy", HashKey: "pk", RangeKey: "sk"})
	require.NoError(t, err)
	bootstrap := testkit.Bootstrap(t, "./cmd/replicator")
	fn := testkit.StartRIE(t, rie.Options{
		Bootstrap: bootstrap,
		Env:       append(db.Env(keyID), "TARGET_TABLE_NAME=orders-copy", "AWS_LAMBDA_LOG_FORMAT=JSON"),
		Timeout:   30 * time.Second,
	})

	record := func(seq, pk string, pkType string) map[string]any {
		key := map[string]any{"pk": map[string]string{pkType: pk}, "sk": map[string]string{"S": "x"}}
		image := map[string]any{"pk": key["pk"], "sk": key["sk"], "note": map[string]string{"S": "n" + seq}}
		return map[string]any{
			"eventID": "ev" + seq, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
			"awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/src/stream/x",
			"dynamodb": map[string]any{"Keys": key, "NewImage": image, "SequenceNumber": seq,
				"StreamViewType": "NEW_AND_OLD_IMAGES", "ApproximateCreationDateTime": 1795000000},
		}
	}
	event, err := json.Marshal(map[string]any{"Records": []any{
		record("9000000000000000000001", "a", "S"),
		record("9000000000000000000002", "b", "S"),
		record("9000000000000000000003", "7", "N"), // the target's pk is S
		record("9000000000000000000004", "c", "S"),
	}})
	require.NoError(t, err)

	resp, err := fn.Invoke(ctx, event)
	require.NoError(t, err, "function logs:\n%s", fn.Logs())
	assert.JSONEq(t, `{"batchItemFailures":[{"itemIdentifier":"9000000000000000000003"}]}`, string(resp))

	items := scan(t, client, "orders-copy")
	assert.ElementsMatch(t, []string{"a/x", "b/x", "c/x"}, keys(items), "the other records are applied")
	assertLogs(t, fn, "ValidationException")
}

func readEvent(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
	require.NoError(tb, err)
	return b
}

// lastImage returns, from an event file, the last NewImage (or, for a
// REMOVE, OldImage) of the item id ("pk/sk"; "" for the file's first record).
func lastImage(tb testing.TB, file, id string) map[string]types.AttributeValue {
	tb.Helper()
	var ev struct {
		Records []struct {
			Change struct {
				NewImage json.RawMessage
				OldImage json.RawMessage
			} `json:"dynamodb"`
		}
	}
	require.NoError(tb, json.Unmarshal(readEvent(tb, file), &ev))
	var found map[string]types.AttributeValue
	for _, r := range ev.Records {
		raw := r.Change.NewImage
		if raw == nil {
			raw = r.Change.OldImage
		}
		item, err := replicate.DecodeImage(raw)
		require.NoError(tb, err)
		if id == "" {
			return item
		}
		if itemID(item) == id {
			found = item
		}
	}
	require.NotNil(tb, found, "no image of %s in %s", id, file)
	return found
}

func itemID(item map[string]types.AttributeValue) string {
	return item["pk"].(*types.AttributeValueMemberS).Value + "/" + item["sk"].(*types.AttributeValueMemberS).Value
}

func scan(tb testing.TB, client *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	tb.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(tb, err)
		for _, item := range page.Items {
			out[itemID(item)] = item
		}
	}
	return out
}

func keys(items map[string]map[string]types.AttributeValue) []string {
	out := make([]string, 0, len(items))
	for k := range items {
		out = append(out, k)
	}
	return out
}

// TestBootstrap_EnvLocalJSON runs the README's sam local invoke against
// DynamoDB Local: the bootstrap under the emulator with the variables of
// events/env-local.json for ReplicatorFunction (its endpoint moved to this
// test's DynamoDB Local, as `ddbsync local ddb --port 8000` would serve it)
// and events/insert.json.
func TestBootstrap_EnvLocalJSON(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	client := db.DynamoDB(keyID)

	b, err := os.ReadFile(filepath.Join("..", "..", "events", "env-local.json"))
	require.NoError(t, err)
	var envFile map[string]map[string]string
	require.NoError(t, json.Unmarshal(b, &envFile))
	vars := envFile["ReplicatorFunction"]
	require.Equal(t, "http://127.0.0.1:8000", vars["AWS_ENDPOINT_URL_DYNAMODB"], "the port the README starts DynamoDB Local on")
	_, err = ddblocal.CreateTable(ctx, client, ddblocal.TableSpec{Name: vars["TARGET_TABLE_NAME"], HashKey: "pk", RangeKey: "sk"})
	require.NoError(t, err)

	env := []string{"AWS_ACCESS_KEY_ID=" + keyID, "AWS_SECRET_ACCESS_KEY=" + ddblocal.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range vars {
		if k == "AWS_ENDPOINT_URL_DYNAMODB" {
			v = db.Endpoint
		}
		env = append(env, k+"="+v)
	}
	fn := testkit.StartRIE(t, rie.Options{Bootstrap: testkit.Bootstrap(t, "./cmd/replicator"), Env: env, Timeout: 30 * time.Second})
	resp, err := fn.Invoke(ctx, readEvent(t, "insert"))
	require.NoError(t, err, "function logs:\n%s", fn.Logs())
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(resp))
	_, ok := scan(t, client, vars["TARGET_TABLE_NAME"])["order#1001/2026-11-27"]
	assert.True(t, ok, "the inserted item is in DynamoDB Local")
}
