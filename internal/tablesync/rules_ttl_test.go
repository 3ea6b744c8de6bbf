package tablesync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/rules"
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

// TestRules_BackfillCheckpointRecordsRules: a checkpoint holds the rule
// set the backfill copied with; resuming it without that rule set (a
// forgotten --rules on a target keyed as the source, which the key schema
// check cannot see) or with another one would copy the rest otherwise
// (filtered items, excluded attributes), so it is refused.
func TestRules_BackfillCheckpointRecordsRules(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "id")
	seedTenants(t, db, "src", 40)
	rs := mustRules(t, `rules: [{filter: 'tenant != "initech"'}, {exclude: [email]}]`)
	ckpt := filepath.Join(t.TempDir(), "ckpt.json")
	ctx, cancel := context.WithCancel(t.Context())
	w := &cancelAfterFirst{Writer: dynamo.NewTable(db, "dst", dynamo.Options{}), cancel: cancel}
	_, err := tablesync.Backfill(ctx, db, "src", w, "dst", tablesync.BackfillOptions{
		Segments: tablesync.Segments{Total: 1}, Rules: rs, PageSize: 5, Checkpoint: ckpt,
	})
	require.ErrorIs(t, err, context.Canceled)

	for name, other := range map[string]*rules.RuleSet{
		"without rules":  nil,
		"other rules":    mustRules(t, `rules: [{exclude: [email]}]`),
		"other ttl only": mustRules(t, "rules: [{filter: 'tenant != \"initech\"'}, {exclude: [email]}]\nttl_deletes: skip\n"),
	} {
		_, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst", tablesync.BackfillOptions{
			Segments: tablesync.Segments{Total: 1}, Rules: other, PageSize: 5, Checkpoint: ckpt,
		})
		assert.ErrorIs(t, err, tablesync.ErrCheckpointMismatch, name)
	}
	renamed := mustRules(t, "# the same rules, named\nrules: [{name: only, filter: 'tenant != \"initech\"'}, {name: pii, exclude: [email]}]")
	res, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst", tablesync.BackfillOptions{
		Segments: tablesync.Segments{Total: 1}, Rules: renamed, PageSize: 5, Checkpoint: ckpt,
	})
	require.NoError(t, err, "the same rules resume")
	assert.Positive(t, res.Resumed)
	out, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String("dst"), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	assert.Len(t, out.Items, 27, "the items of acme and globex")
	for _, it := range out.Items {
		assert.NotContains(t, it, "email")
		assert.NotEqual(t, s("initech"), it["tenant"])
	}
}

// TestRules_VerifyCountsExpiredCopiesKept: with ttl_deletes: skip and the
// source's TTL attribute given, a target item whose source item is gone
// and whose TTL (where the rules put the attribute: renamed or not) is at
// or before now is a kept expired copy: counted apart, not extra. One
// without a TTL, with a future one or a TTL that is no number is still
// extra, as is one whose source item exists but left the filter; and so
// is every one without ttl_deletes: skip or without the attribute.
// DynamoDB Local deletes nothing by TTL: the expiry is the target copy
// written and the source item deleted by hand.
func TestRules_VerifyCountsExpiredCopiesKept(t *testing.T) {
	past := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
	future := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	const filter = `{filter: 'tenant != "initech"'}`
	for _, tc := range []struct {
		name, rules, ttlAttr string
		at                   string // the TTL attribute in the target
		kept, extra          int64
	}{
		{name: "skip", rules: "rules: [" + filter + ", {exclude: [email]}]\nttl_deletes: skip\n", ttlAttr: "expires", at: "expires", kept: 1, extra: 4},
		{name: "skip, renamed", rules: "rules: [" + filter + ", {rename: {expires: exp_at}}]\nttl_deletes: skip\n", ttlAttr: "expires", at: "exp_at", kept: 1, extra: 4},
		{name: "skip, no TTL attribute", rules: "rules: [" + filter + ", {exclude: [email]}]\nttl_deletes: skip\n", at: "expires", extra: 5},
		{name: "skip, TTL attribute dropped", rules: "rules: [" + filter + ", {exclude: [expires]}]\nttl_deletes: skip\n", ttlAttr: "expires", at: "expires", extra: 5},
		{name: "replicate", rules: "rules: [" + filter + ", {exclude: [email]}]\n", ttlAttr: "expires", at: "expires", extra: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := localDB(t)
			createKeyed(t, db, "src", "id")
			createKeyed(t, db, "dst", "id")
			rs := mustRules(t, tc.rules)
			// In both and equal: expired, the source item not yet deleted.
			put(t, db, "src", item{"id": s("live"), "tenant": s("acme"), "expires": n(past)})
			live := item{"id": s("live"), "tenant": s("acme")}
			if tc.name != "skip, TTL attribute dropped" {
				live[tc.at] = n(past)
			}
			put(t, db, "dst", live)
			for id, ttl := range map[string]av{"expired": n(past), "future": n(future), "text": s(past), "none": nil} {
				it := item{"id": s(id), "tenant": s("acme")}
				if ttl != nil {
					it[tc.at] = ttl
				}
				put(t, db, "dst", it) // its source item is gone
			}
			// Its source item exists and left the filter: its copy is extra.
			put(t, db, "src", item{"id": s("left"), "tenant": s("initech"), "expires": n(past)})
			put(t, db, "dst", item{"id": s("left"), "tenant": s("acme"), tc.at: n(past)})

			diffs, got := collect()
			res, err := tablesync.Verify(t.Context(), db, "src", db, "dst", tablesync.VerifyOptions{
				Segments: tablesync.Segments{Total: 2, Concurrency: 2}, RecheckDelay: -1, Rules: rs,
				TTLAttribute: tc.ttlAttr, OnDifference: diffs,
			})
			require.NoError(t, err)
			assert.Equal(t, tc.kept, res.ExpiredKept, "%s %v", res, got())
			assert.Equal(t, tc.extra, res.Extra, "%s %v", res, got())
			assert.Zero(t, res.Missing+res.Different, "%s %v", res, got())
			if tc.kept > 0 {
				for _, d := range got() {
					assert.NotEqual(t, `{"id":{"S":"expired"}}`, tablesync.KeyJSON(d.Key), "the kept copy is no difference")
				}
				assert.Contains(t, res.String(), fmt.Sprintf("%d expired copies kept", tc.kept))
			} else {
				assert.NotContains(t, res.String(), "expired")
			}
		})
	}
}

// TestRules_VerifyNeverExpiredTTLIsExtra: DynamoDB's TTL never deletes an
// item whose TTL is more than five years before it runs, and it runs
// since 2017, so a copy whose TTL is before 2012 (0, a small count, a
// negative number) cannot be the kept copy of an item the TTL expired:
// its source item was deleted otherwise and the copy is extra.
func TestRules_VerifyNeverExpiredTTLIsExtra(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "id")
	rs := mustRules(t, "rules: [{exclude: [email]}]\nttl_deletes: skip\n")
	for _, ttl := range []string{"0", "1", "-5", "1000000000"} { // 1000000000: 2001
		put(t, db, "dst", item{"id": s("never-" + ttl), "expires": n(ttl)}) // its source item is gone
	}
	put(t, db, "dst", item{"id": s("expired"), "expires": n(fmt.Sprint(time.Now().Add(-time.Hour).Unix()))})

	diffs, got := collect()
	res, err := tablesync.Verify(t.Context(), db, "src", db, "dst", tablesync.VerifyOptions{
		Segments: tablesync.Segments{Total: 1}, RecheckDelay: -1, Rules: rs,
		TTLAttribute: "expires", OnDifference: diffs,
	})
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.ExpiredKept, "%s %v", res, got())
	assert.EqualValues(t, 4, res.Extra, "%s %v", res, got())
}
