package tablesync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// tenantRules drops an attribute, renames one, re-keys (pk = tenant#id)
// and filters by tenant; the source key (id) stays in the target item, so
// verify and repair can map target items back to it.
const tenantRules = `rules:
  - name: no-initech
    filter: tenant != "initech"
  - exclude: [email]
  - rename: {status: state}
  - key: {pk: 'tenant + "#" + id'}
`

var tenants = []string{"acme", "globex", "initech"}

func mustRules(tb testing.TB, src string) *rules.RuleSet {
	tb.Helper()
	rs, err := rules.Parse("rules.yaml", []byte(src))
	require.NoError(tb, err)
	return rs
}

// createKeyed creates a table keyed by one S attribute.
func createKeyed(tb testing.TB, db *dynamodb.Client, name, hash string) {
	tb.Helper()
	_, err := ddblocal.CreateTable(tb.Context(), db, ddblocal.TableSpec{Name: name, HashKey: hash})
	require.NoError(tb, err)
}

func tenantItem(i int, tenant string) item {
	return item{"id": s(fmt.Sprintf("i%03d", i)), "tenant": s(tenant), "email": s(fmt.Sprintf("u%d@example.com", i)),
		"status": s("open"), "n": n(fmt.Sprint(i))}
}

// seedTenants puts count items in table: item i of tenant i%3.
func seedTenants(tb testing.TB, db *dynamodb.Client, table string, count int) {
	tb.Helper()
	for i := range count {
		put(tb, db, table, tenantItem(i, tenants[i%3]))
	}
}

// rulesVerify verifies with rs and returns the result and the differences,
// sorted by kind and target key.
func rulesVerify(tb testing.TB, db *dynamodb.Client, rs *rules.RuleSet, onDiff func(context.Context, tablesync.Difference) error) (tablesync.VerifyResult, []tablesync.Difference) {
	tb.Helper()
	diffs, got := collect()
	res, err := tablesync.Verify(tb.Context(), db, "src", db, "dst", tablesync.VerifyOptions{
		Segments: tablesync.Segments{Total: 4, Concurrency: 4}, RecheckDelay: -1, Rules: rs,
		OnDifference: func(ctx context.Context, d tablesync.Difference) error {
			if err := diffs(ctx, d); err != nil {
				return err
			}
			if onDiff != nil {
				return onDiff(ctx, d)
			}
			return nil
		},
	})
	require.NoError(tb, err)
	out := got()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return tablesync.KeyJSON(out[i].Key) < tablesync.KeyJSON(out[j].Key)
	})
	return res, out
}

func pkOf(d tablesync.Difference) string {
	if v, ok := d.Key["pk"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return tablesync.KeyJSON(d.Key)
}

// TestRules_BackfillVerifyRepair copies through a rule set, verifies the
// copy clean, breaks the target in each way the rules allow (an item that
// left the filter, a stale item at an old key after a re-key, a missing
// item, a wrong value, an item no source item makes) and checks that
// verify finds each, repair fixes each and verify is clean again.
func TestRules_BackfillVerifyRepair(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	const count = 300
	seedTenants(t, db, "src", count)
	rs := mustRules(t, tenantRules)

	res, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst",
		tablesync.BackfillOptions{Segments: tablesync.Segments{Total: 4, Concurrency: 4}, Rules: rs, PageSize: 37})
	require.NoError(t, err)
	assert.EqualValues(t, count, res.Scanned)
	assert.EqualValues(t, 200, res.Copied)
	assert.EqualValues(t, 100, res.Filtered)
	assert.Zero(t, res.Failed)
	got, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("dst"), Key: item{"pk": s("acme#i000")}})
	require.NoError(t, err)
	assert.Equal(t, item{"pk": s("acme#i000"), "id": s("i000"), "tenant": s("acme"), "state": s("open"), "n": n("0")}, got.Item)

	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.True(t, vres.Identical(), vres.String())
	assert.Empty(t, diffs)
	assert.EqualValues(t, 100, vres.Filtered)
	assert.EqualValues(t, count, vres.SourceItems)
	assert.EqualValues(t, 200, vres.TargetItems)
	assert.Zero(t, vres.ExpectedKeys, "the reverse mapping needs no expected set")

	// Break the target.
	put(t, db, "src", tenantItem(0, "initech")) // i000 leaves the filter: acme#i000 stays behind
	put(t, db, "src", tenantItem(1, "acme"))    // i001 re-keyed: globex#i001 is stale, acme#i001 missing
	del(t, db, "dst", item{"pk": s("acme#i003")})
	wrong := tenantItem(6, "acme")
	delete(wrong, "email")
	wrong["pk"], wrong["state"] = s("acme#i006"), s("closed")
	delete(wrong, "status")
	put(t, db, "dst", wrong)
	put(t, db, "dst", item{"pk": s("stray"), "x": s("no source key")})

	vres, diffs = rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 2, vres.Missing, vres.String())
	assert.EqualValues(t, 3, vres.Extra, vres.String())
	assert.EqualValues(t, 1, vres.Different, vres.String())
	var kinds []string
	for _, d := range diffs {
		kinds = append(kinds, string(d.Kind)+" "+pkOf(d))
	}
	assert.Equal(t, []string{"different acme#i006", "extra acme#i000", "extra globex#i001", "extra stray",
		"missing acme#i001", "missing acme#i003"}, kinds)
	for _, d := range diffs {
		assert.Equal(t, d.Key, d.TargetKey, "%s: the key is the target key", d.Kind)
		if pkOf(d) != "stray" {
			require.NotNil(t, d.SourceKey, "%s %s carries its source key", d.Kind, pkOf(d))
		}
	}
	assert.Equal(t, []string{"state"}, diffs[0].Attributes)
	assert.Equal(t, item{"id": s("i001")}, diffs[2].SourceKey)

	// Repair each, as verify --repair does.
	rep := tablesync.NewRepairer(db, "src", db, "dst", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	vres, _ = rulesVerify(t, db, rs, tablesync.RepairEach(rep, nil))
	assert.EqualValues(t, 6, vres.Missing+vres.Extra+vres.Different)
	st := rep.Stats()
	assert.Zero(t, st.Failed, "%+v %v", st, rep.FailedKeys())
	assert.EqualValues(t, 3, st.Puts, "%+v", st)
	assert.EqualValues(t, 3, st.Deletes, "%+v", st)

	vres, diffs = rulesVerify(t, db, rs, nil)
	assert.True(t, vres.Identical(), "%s %v", vres, diffs)
	assert.EqualValues(t, 199, vres.TargetItems)

	// RepairSource: a source key's copies, wherever they are. i002 joins the
	// filter; i004 (globex) leaves it and its copy must go.
	put(t, db, "src", tenantItem(2, "acme"))
	put(t, db, "src", tenantItem(4, "initech"))
	for _, id := range []string{"i002", "i004"} {
		_, err := rep.RepairSource(t.Context(), item{"id": s(id)}, "", item{"pk": s("globex#" + id)})
		require.NoError(t, err)
	}
	vres, diffs = rulesVerify(t, db, rs, nil)
	assert.True(t, vres.Identical(), "%s %v", vres, diffs)
}

// TestRules_Collisions: a key rule that maps two source items to one
// target key. The backfill writes the first of a batch, counts and
// reports the others; verify reports the collision as such.
func TestRules_Collisions(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	seedTenants(t, db, "src", 6)
	rs := mustRules(t, `rules: [{key: {pk: 'tenant'}}]`) // one target item per tenant

	res, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst",
		tablesync.BackfillOptions{Rules: rs, Segments: tablesync.Segments{Total: 1}}) // one batch
	require.ErrorIs(t, err, tablesync.ErrItemsFailed)
	assert.EqualValues(t, 3, res.Copied)
	assert.EqualValues(t, 3, res.Collisions)
	assert.EqualValues(t, 3, res.Failed)
	require.Len(t, res.FailedItems, 3)
	for _, f := range res.FailedItems {
		assert.ErrorIs(t, f.Err, rules.ErrCollision)
		assert.NotNil(t, f.OtherSourceKey)
		assert.Contains(t, tenants, f.TargetKey["pk"].(*types.AttributeValueMemberS).Value)
	}

	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 3, vres.Collisions, "%s %v", vres, diffs)
	assert.False(t, vres.Identical())
	for _, d := range diffs {
		assert.Equal(t, tablesync.Collision, d.Kind)
		assert.NotNil(t, d.OtherSourceKey)
		assert.Contains(t, d.Error, "target key collision")
	}
}

// TestRules_FallbackWithoutSourceKey: rules that drop the source key from
// the target item. The target pass falls back to the target keys the
// source pass expected; a repair does not delete an item whose owner it
// cannot know.
func TestRules_FallbackWithoutSourceKey(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	seedTenants(t, db, "src", 30)
	rs := mustRules(t, `rules: [{key: {pk: 'tenant + "#" + id'}}, {exclude: [id]}]`)
	require.False(t, rs.Reversible([]string{"id"}))

	_, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst", tablesync.BackfillOptions{Rules: rs})
	require.NoError(t, err)
	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.True(t, vres.Identical(), "%s %v", vres, diffs)
	assert.EqualValues(t, 30, vres.ExpectedKeys)

	put(t, db, "dst", item{"pk": s("stray")})
	del(t, db, "dst", item{"pk": s("acme#i000")})
	vres, diffs = rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 1, vres.Extra, vres.String())
	assert.EqualValues(t, 1, vres.Missing, vres.String())
	rep := tablesync.NewRepairer(db, "src", db, "dst", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	for _, d := range diffs {
		_, err := rep.RepairTarget(t.Context(), d.Key, d.SourceKey, "")
		if d.Kind == tablesync.Extra {
			assert.ErrorIs(t, err, tablesync.ErrOwnerUnknown)
		} else {
			assert.NoError(t, err)
		}
	}
	vres, _ = rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 1, vres.Extra, "the stray item is left: its owner is unknown")
	assert.Zero(t, vres.Missing)
}

// TestRules_BackfillRuleErrors: an item the rules fail on is not copied,
// counted and named by its key; the others are copied.
func TestRules_BackfillRuleErrors(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	seedTenants(t, db, "src", 3)
	put(t, db, "src", item{"id": s("bare")}) // no tenant: the key rule fails
	rs := mustRules(t, tenantRules)
	res, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst", tablesync.BackfillOptions{Rules: rs})
	require.ErrorIs(t, err, tablesync.ErrItemsFailed)
	assert.Contains(t, err.Error(), `"id": S "bare"`)
	assert.EqualValues(t, 2, res.Copied)
	assert.EqualValues(t, 1, res.Filtered)
	assert.EqualValues(t, 1, res.Failed)
	require.Len(t, res.FailedItems, 1)
	assert.Equal(t, item{"id": s("bare")}, res.FailedItems[0].SourceKey)

	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 1, vres.RuleErrors, "%s %v", vres, diffs)
	require.Len(t, diffs, 1)
	assert.Equal(t, tablesync.RuleFailed, diffs[0].Kind)
	assert.NotEmpty(t, diffs[0].Error)
}

// TestRules_VerifyRefusesWrongTargetKey: a target keyed otherwise than
// the rules say (a forgotten --rules, or the wrong table).
func TestRules_VerifyRefusesWrongTargetKey(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "id")
	_, err := tablesync.Verify(t.Context(), db, "src", db, "dst", tablesync.VerifyOptions{Rules: mustRules(t, tenantRules)})
	require.ErrorIs(t, err, tablesync.ErrKeySchema)
	assert.Contains(t, err.Error(), "give target key [pk]")
}

func TestCheckTargetKey(t *testing.T) {
	src := tablesync.TableInfo{Name: "src", Keys: []string{"id", "sk"}, KeyTypes: []types.ScalarAttributeType{"S", "N"}}
	tests := map[string]struct {
		rules   string
		target  tablesync.TableInfo
		wantErr bool
	}{
		"identity, same key":         {target: tablesync.TableInfo{Name: "dst", Keys: []string{"id", "sk"}, KeyTypes: []types.ScalarAttributeType{"S", "N"}}},
		"identity, other type":       {target: tablesync.TableInfo{Name: "dst", Keys: []string{"id", "sk"}, KeyTypes: []types.ScalarAttributeType{"S", "S"}}, wantErr: true},
		"identity, re-keyed target":  {target: tablesync.TableInfo{Name: "dst", Keys: []string{"pk"}}, wantErr: true},
		"key rule":                   {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`, target: tablesync.TableInfo{Name: "dst", Keys: []string{"pk"}}},
		"key rule, target not keyed": {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`, target: tablesync.TableInfo{Name: "dst", Keys: []string{"id", "sk"}}, wantErr: true},
		"renamed key, any order":     {rules: `rules: [{rename: {id: order_id}}]`, target: tablesync.TableInfo{Name: "dst", Keys: []string{"order_id", "sk"}}},
		"filter only":                {rules: `rules: [{filter: 'tenant == "a"'}]`, target: tablesync.TableInfo{Name: "dst", Keys: []string{"id", "sk"}}},
		"key rule, string key of type S": {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`,
			target: tablesync.TableInfo{Name: "dst", Keys: []string{"pk"}, KeyTypes: []types.ScalarAttributeType{"S"}}},
		"key rule, string key, target N": {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`,
			target: tablesync.TableInfo{Name: "dst", Keys: []string{"pk"}, KeyTypes: []types.ScalarAttributeType{"N"}}, wantErr: true},
		"renamed key keeps its type, target S": {rules: `rules: [{rename: {sk: n}}]`,
			target: tablesync.TableInfo{Name: "dst", Keys: []string{"id", "n"}, KeyTypes: []types.ScalarAttributeType{"S", "S"}}, wantErr: true},
		"unknown type is not checked": {rules: `rules: [{key: {pk: 'tenant'}}]`,
			target: tablesync.TableInfo{Name: "dst", Keys: []string{"pk"}, KeyTypes: []types.ScalarAttributeType{"N"}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tablesync.CheckTargetKey(src, tt.target, mustRules(t, tt.rules))
			if tt.wantErr {
				assert.ErrorIs(t, err, tablesync.ErrKeySchema)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestRules_BackfillCheckpointHoldsSourceKeys: with rules the writes'
// keys are target keys, but a resumed Scan starts after a source key.
func TestRules_BackfillCheckpointHoldsSourceKeys(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	seedTenants(t, db, "src", 40)
	rs := mustRules(t, tenantRules)
	ckpt := filepath.Join(t.TempDir(), "ckpt.json")
	ctx, cancel := context.WithCancel(t.Context())
	w := &cancelAfterFirst{Writer: dynamo.NewTable(db, "dst", dynamo.Options{}), cancel: cancel}
	_, err := tablesync.Backfill(ctx, db, "src", w, "dst", tablesync.BackfillOptions{
		Segments: tablesync.Segments{Total: 1}, Rules: rs, PageSize: 5, Checkpoint: ckpt,
	})
	require.ErrorIs(t, err, context.Canceled)
	cp, err := tablesync.LoadCheckpoint(ckpt)
	require.NoError(t, err)
	require.NotEmpty(t, cp.Segments)
	for _, st := range cp.Segments {
		if st.LastKey != nil {
			assert.Contains(t, string(st.LastKey), `"id"`, "a source key")
			assert.NotContains(t, string(st.LastKey), `"pk"`)
		}
	}
	res, err := tablesync.Backfill(t.Context(), db, "src", dynamo.NewTable(db, "dst", dynamo.Options{}), "dst", tablesync.BackfillOptions{
		Segments: tablesync.Segments{Total: 1}, Rules: rs, PageSize: 5, Checkpoint: ckpt,
	})
	require.NoError(t, err)
	assert.Positive(t, res.Resumed)
	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.True(t, vres.Identical(), "%s %v", vres, diffs)
}

// cancelAfterFirst cancels the backfill once its first batch is written.
type cancelAfterFirst struct {
	replicate.Writer
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelAfterFirst) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	errs, retries := c.Writer.WriteBatch(ctx, writes)
	c.once.Do(c.cancel)
	return errs, retries
}

// TestRules_CollisionsWithoutSourceKey: when the rules drop the source
// key, collisions are found in the expected set; repairing a collided key
// with both source keys as candidates is refused as a collision.
func TestRules_CollisionsWithoutSourceKey(t *testing.T) {
	db := localDB(t)
	createKeyed(t, db, "src", "id")
	createKeyed(t, db, "dst", "pk")
	seedTenants(t, db, "src", 4) // acme, globex, initech, acme
	rs := mustRules(t, `rules: [{key: {pk: 'tenant'}}, {exclude: [id]}]`)
	put(t, db, "dst", item{"pk": s("acme"), "tenant": s("acme"), "email": s("u0@example.com"), "status": s("open"), "n": n("0")})

	vres, diffs := rulesVerify(t, db, rs, nil)
	assert.EqualValues(t, 1, vres.Collisions, "%s %v", vres, diffs)
	var collision tablesync.Difference
	for _, d := range diffs {
		if d.Kind == tablesync.Collision {
			collision = d
		}
	}
	require.Equal(t, tablesync.Collision, collision.Kind)
	assert.Equal(t, item{"pk": s("acme")}, collision.Key)
	assert.ElementsMatch(t, []item{{"id": s("i000")}, {"id": s("i003")}}, []item{collision.SourceKey, collision.OtherSourceKey})

	rep := tablesync.NewRepairer(db, "src", db, "dst", tablesync.RepairOptions{Rules: rs, SourceKeys: []string{"id"}})
	_, err := rep.RepairTarget(t.Context(), item{"pk": s("acme")}, collision.SourceKey, "")
	require.NoError(t, err, "one candidate that maps here: its value is put")
	rep2 := tablesync.NewRepairer(db, "src", db, "dst", tablesync.RepairOptions{Rules: mustRules(t, `rules: [{key: {pk: 'tenant'}}]`), SourceKeys: []string{"id"}})
	put(t, db, "dst", item{"pk": s("acme"), "id": s("i000"), "tenant": s("acme")})
	_, err = rep2.RepairTarget(t.Context(), item{"pk": s("acme")}, item{"id": s("i003")}, "")
	assert.ErrorIs(t, err, rules.ErrCollision, "the target item's owner and the hint both map to acme")
}
