package tablesync_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// TestRules_TTLSkipKeepsExpiredCopies: with ttl_deletes: skip the copy
// keeps the items the source's TTL expired (the replicator skips their
// REMOVEs), so a target item whose source item is gone may be one the
// copy must keep. Neither a repair of verify's extra item nor a
// RepairSource of its key (redrive) may delete it; an item that left the
// filter (its source item exists) is still deleted.
func TestRules_TTLSkipKeepsExpiredCopies(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "id")
	rs := mustRules(t, "rules: [{filter: 'tenant != \"initech\"'}, {exclude: [email]}]\nttl_deletes: skip\n")
	expired := item{"id": s("expired"), "tenant": s("acme")} // its source item expired: the copy keeps it
	put(t, db, "dst", expired)
	put(t, db, "src", item{"id": s("left"), "tenant": s("initech")})
	put(t, db, "dst", item{"id": s("left"), "tenant": s("acme")}) // left the filter: its copy goes

	rep := tablesync.NewRepairer(db, "src", db, "dst", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	vres, diffs := rulesVerify(t, db, rs, tablesync.RepairEach(rep, nil))
	assert.EqualValues(t, 2, vres.Extra, "%s %v", vres, diffs)
	_, err := rep.RepairSource(t.Context(), item{"id": s("expired")}, "")
	assert.ErrorIs(t, err, tablesync.ErrExpiredKept)

	got, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("dst"), Key: item{"id": s("expired")}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, expired, got.Item, "the expired item's copy is kept")
	got, err = db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("dst"), Key: item{"id": s("left")}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	assert.Empty(t, got.Item, "the copy of the item that left the filter is deleted")
	st := rep.Stats()
	assert.EqualValues(t, 1, st.Deletes, "%+v", st)
	assert.EqualValues(t, 2, st.Failed, "%+v", st)
}
