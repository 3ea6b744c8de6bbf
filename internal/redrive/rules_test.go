package redrive_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/redrive"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// TestBatch_Rules redrives a failed batch through a rule set that re-keys
// (pk = tenant#id) and filters: the records' images give the target keys
// to repair, so a re-keyed item ends at its new key with its old one
// deleted, and an item that left the filter is deleted.
func TestBatch_Rules(t *testing.T) {
	s := testkit.DDB(t)
	keyID := testkit.AccessKeyID(t)
	db, streams := s.DynamoDB(keyID), s.Streams(keyID)
	arn, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "source", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	rs, err := rules.Parse("rules.yaml", []byte(`rules: [{filter: 'tenant != "initech"'}, {key: {pk: 'tenant + "#" + id'}}]`))
	require.NoError(t, err)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	src := func(id, tenant string) item { return item{"id": str(id), "tenant": str(tenant)} }
	tgt := func(id, tenant string) item {
		return item{"pk": str(tenant + "#" + id), "id": str(id), "tenant": str(tenant)}
	}

	put(t, db, "source", src("A", "acme"))
	put(t, db, "source", src("A", "globex")) // re-keyed
	put(t, db, "source", src("B", "acme"))
	put(t, db, "source", src("B", "initech")) // left the filter
	// The batch failed: the target still holds the first images' copies.
	put(t, db, "target", tgt("A", "acme"))
	put(t, db, "target", tgt("B", "acme"))
	batch := batchOf(t, streams, arn, 0, 3)

	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	res, err := redrive.Batch(t.Context(), streams, rep, batch, redrive.Options{Rules: rs})
	require.NoError(t, err)
	assert.Len(t, res.Keys, 2)
	st := rep.Stats()
	assert.EqualValues(t, 1, st.Puts, "%+v", st)
	assert.EqualValues(t, 2, st.Deletes, "%+v", st)

	got := map[string]item{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String("target"), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, it := range page.Items {
			got[it["pk"].(*types.AttributeValueMemberS).Value] = it
		}
	}
	assert.Equal(t, map[string]item{"globex#A": tgt("A", "globex")}, got)
}

// ttlStream marks every REMOVE record it reads as a TTL expiry (the
// userIdentity DynamoDB's TTL service gives it; DynamoDB Local has no TTL).
type ttlStream struct{ redrive.StreamReader }

func (s ttlStream) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	out, err := s.StreamReader.GetRecords(ctx, in, optFns...)
	if out != nil {
		for i := range out.Records {
			if out.Records[i].EventName == streamtypes.OperationTypeRemove {
				out.Records[i].UserIdentity = &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")}
			}
		}
	}
	return out, err
}

// TestBatch_RulesTTLSkip: with ttl_deletes: skip the replicator keeps the
// copy of an item the source's TTL expired, so redriving a failed batch
// whose records of a key are TTL deletes leaves that copy, while the
// batch's other keys are repaired as usual.
func TestBatch_RulesTTLSkip(t *testing.T) {
	s := testkit.DDB(t)
	keyID := testkit.AccessKeyID(t)
	db, streams := s.DynamoDB(keyID), s.Streams(keyID)
	arn, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "source", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "target", HashKey: "id"})
	require.NoError(t, err)
	rs, err := rules.Parse("rules.yaml", []byte("rules: [{exclude: [email]}]\nttl_deletes: skip\n"))
	require.NoError(t, err)

	put(t, db, "target", version("A", 1)) // copied before A expired
	put(t, db, "source", version("A", 1))
	del(t, db, "source", "A") // a TTL expiry (ttlStream)
	put(t, db, "source", version("B", 1))
	batch := batchOf(t, streams, arn, 1, 2)

	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	res, err := redrive.Batch(t.Context(), ttlStream{streams}, rep, batch, redrive.Options{Rules: rs})
	require.NoError(t, err)
	require.Len(t, res.Keys, 2)
	assert.Equal(t, tablesync.ActionNone, res.Keys[0].Action, "A's records are TTL deletes the rules skip")
	assert.Equal(t, tablesync.ActionPut, res.Keys[1].Action)
	assert.Equal(t, version("A", 1), get(t, db, "target", "A"), "the expired item's copy is kept")
	assert.Equal(t, version("B", 1), get(t, db, "target", "B"))
}
