package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// TestFanout_Rules_DynamoDBLocal runs the queue path with a rule set at the
// apply end: DynamoDB Local's stream published raw to moto_server's SNS
// FIFO topic, the SQS FIFO queue drained into an apply handler whose
// replicator has the rules, behind the stale-write guard. The target, as a
// reader sees it, must hold exactly the rules applied to the source's
// items: filtered, reshaped and re-keyed, items that left the filter or
// changed their target key gone.
func TestFanout_Rules_DynamoDBLocal(t *testing.T) {
	ctx := t.Context()
	q := newQueueSetup(t, testkit.Moto(t))
	srv := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := srv.DynamoDB(keyID)
	arn, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	rs, err := rules.Parse("test", []byte(`rules:
  - filter: has(item.tenant) && item.tenant == "acme"
  - exclude: [email]
  - rename: {status: state}
  - key: {pk: 'tenant + "#" + id'}
`))
	require.NoError(t, err)

	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	put := func(n int, tenant, id, status string) {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: map[string]types.AttributeValue{
			"pk": s(fmt.Sprintf("o%d", n)), "tenant": s(tenant), "id": s(id), "status": s(status), "email": s("x@example.com"),
		}})
		require.NoError(t, err)
	}
	for n := range 20 {
		tenant := "acme"
		if n%3 == 0 {
			tenant = "globex"
		}
		put(n, tenant, fmt.Sprint(n), "new")
	}
	for n := 0; n < 20; n += 4 {
		put(n, "acme", fmt.Sprint(n), "moved-in") // globex ones enter the filter
	}
	for n := 1; n < 20; n += 5 {
		put(n, "globex", fmt.Sprint(n), "moved-out") // acme ones leave it
	}
	for n := 2; n < 20; n += 6 {
		put(n, "acme", fmt.Sprint(100+n), "re-keyed")
	}
	for _, n := range []int{7, 10} {
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("source"), Key: map[string]types.AttributeValue{"pk": s(fmt.Sprintf("o%d", n))}})
		require.NoError(t, err)
	}

	publisher := lambdahandler.NewHandler(lambdahandler.NewPublishHandler(queue.NewPublisher(q.sns, q.topicARN, queue.PublisherOptions{}), nil, lambdahandler.Options{}), nil, lambdahandler.Options{})
	p := streampoll.New(srv.Streams(keyID), publisher, streampoll.Options{StreamARN: arn, BatchSize: 100, StopWhenIdle: 600 * time.Millisecond})
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, p.Run(runCtx))
	require.Zero(t, p.Stats().FailedRecords)

	guard := dynamo.NewSeqGuard(dynamo.NewTable(db, "target", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond}}),
		replattr.Names{}, dynamo.GuardOptions{Now: func() time.Time { return applyNow }})
	opts := lambdahandler.Options{TargetTable: "target"}
	h := lambdahandler.NewHandler(nil, lambdahandler.NewQueueHandler(queue.NewApplier(replicate.New(guard, replicate.Options{Rules: rs}), db, "source"), opts), opts)
	_, failed := q.drain(t, h)
	assert.Empty(t, failed)

	want := map[string]map[string]types.AttributeValue{}
	for _, item := range scanTable(t, db, "source") {
		key, out, keep, err := rs.Target(item, map[string]types.AttributeValue{"pk": item["pk"]})
		require.NoError(t, err)
		if keep {
			want[key["pk"].(*types.AttributeValueMemberS).Value] = out
		}
	}
	got := map[string]map[string]types.AttributeValue{}
	names := replattr.Names{}.WithDefaults()
	for _, item := range scanTable(t, db, "target") {
		if v := names.Visible(item); v != nil {
			got[v["pk"].(*types.AttributeValueMemberS).Value] = v
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, got)
	assert.Contains(t, got, "acme#108", "a re-keyed item under its new key")
	assert.NotContains(t, got, "acme#8", "and not under its old one")
}

func scanTable(tb testing.TB, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	tb.Helper()
	out, err := db.Scan(tb.Context(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	require.NoError(tb, err)
	return out.Items
}
