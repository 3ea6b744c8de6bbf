package redrive_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
