package exportload_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// exportRules drops an attribute, renames one, re-keys the copy
// (id = tenant#pk: the source's sort key is not in the target key, so two
// items of one pk collide) and filters out one tenant.
const exportRules = `rules:
  - filter: tenant != "initech"
  - exclude: [email]
  - rename: {status: state}
  - key: {id: 'tenant + "#" + pk'}
`

func tenantExportItem(n int, tenant string) exporttest.Item {
	it := exporttest.Simple(fmt.Sprintf("k%04d", n), n, "v")
	it["tenant"] = &types.AttributeValueMemberS{Value: tenant}
	it["email"] = &types.AttributeValueMemberS{Value: "x@example.com"}
	it["status"] = &types.AttributeValueMemberS{Value: "open"}
	return it
}

// TestLoad_Rules loads an export through a rule set into DynamoDB Local:
// filtered items are counted and not written, an item the rules fail on
// and one that collides in its batch are counted and named, the others are
// written as the rules make them, and every file is done (lines that end a
// file filtered out included).
func TestLoad_Rules(t *testing.T) {
	rs, err := rules.Parse("rules.yaml", []byte(exportRules))
	require.NoError(t, err)
	var files [][]exporttest.Item
	tenants := []string{"acme", "globex", "initech"}
	for f := range 3 {
		var items []exporttest.Item
		for i := range 40 {
			n := f*40 + i
			items = append(items, tenantExportItem(n, tenants[n%3]))
		}
		files = append(files, items)
	}
	bare := exporttest.Simple("bare", 1000, "no tenant") // the filter fails on it
	files[0] = append(files[0], bare)
	twin := tenantExportItem(1, "globex")                    // maps to globex#k0001, as line 2 does
	twin["sk"] = &types.AttributeValueMemberN{Value: "5000"} // another source key
	files[0] = append(files[0][:3], append([]exporttest.Item{twin}, files[0][3:]...)...)
	files[2] = append(files[2], tenantExportItem(2000, "initech"))                                                 // the last line filtered out
	files = append(files, []exporttest.Item{tenantExportItem(3000, "initech"), tenantExportItem(3001, "initech")}) // all filtered out

	s3c, bucket := newBucket(t)
	dir, _ := exporttest.Write(t, s3c, bucket, "p", files, exporttest.Options{})
	db, _ := newDB(t)
	_, err = ddblocal.CreateTable(context.Background(), db, ddblocal.TableSpec{Name: "target", HashKey: "id"})
	require.NoError(t, err)
	cfg := loadConfig(t, s3c, bucket, dir, db, "target")
	cfg.Loader.Rules = rs

	rep, err := exportload.Load(t.Context(), cfg)
	require.ErrorIs(t, err, exportload.ErrItemsFailed)
	assert.Len(t, rep.Failed, 0, "no file failed")
	assert.Equal(t, 4, rep.FilesDone)
	assert.EqualValues(t, 43, rep.Filtered)
	assert.EqualValues(t, 2, rep.ItemsFailed)
	assert.EqualValues(t, 1, rep.Collisions)
	require.Len(t, rep.FailedItems, 2)
	var msgs []string
	for _, f := range rep.FailedItems {
		msgs = append(msgs, f.String())
	}
	assert.Contains(t, fmt.Sprint(msgs), `source key {"pk": S "bare", "sk": N 1000}`)
	assert.Contains(t, fmt.Sprint(msgs), "target key collision")
	assert.Contains(t, err.Error(), "2 items (1 collisions)")
	assert.EqualValues(t, 80, rep.ItemsWritten)
	assert.EqualValues(t, rep.Items, rep.ItemsDone, "every line counts in the watermark")

	// The target holds exactly the source items through the rules.
	want := map[string]exporttest.Item{}
	for _, f := range files {
		for _, it := range f {
			tk, out, keep, err := rs.Target(it, exporttest.Item{"pk": it["pk"], "sk": it["sk"]})
			if err != nil || !keep {
				continue
			}
			id := tk["id"].(*types.AttributeValueMemberS).Value
			if _, dup := want[id]; !dup {
				want[id] = out
			}
		}
	}
	got := map[string]exporttest.Item{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String("target")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, it := range page.Items {
			got[it["id"].(*types.AttributeValueMemberS).Value] = it
		}
	}
	require.Len(t, got, len(want))
	for id, w := range want {
		assert.True(t, tablecmp.EqualItems(w, got[id]), "%s: %v", id, tablecmp.DiffItems(w, got[id]))
		assert.NotContains(t, got[id], "email")
		assert.Contains(t, got[id], "state")
	}
}

// TestLoad_RulesCheckpoint: a checkpoint records the rule set the load
// copies with; resuming it without it or with another one would load the
// rest otherwise (filtered items, excluded attributes), so it is refused.
func TestLoad_RulesCheckpoint(t *testing.T) {
	rs, err := rules.Parse("rules.yaml", []byte("rules: [{filter: 'tenant != \"initech\"'}, {exclude: [email]}]"))
	require.NoError(t, err)
	var items []exporttest.Item
	for i := range 30 {
		items = append(items, tenantExportItem(i, []string{"acme", "globex", "initech"}[i%3]))
	}
	s3c, bucket := newBucket(t)
	dir, _ := exporttest.Write(t, s3c, bucket, "p", [][]exporttest.Item{items[:15], items[15:]}, exporttest.Options{})
	db, _ := newDB(t)
	_, err = ddblocal.CreateTable(context.Background(), db, ddblocal.TableSpec{Name: "target", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN})
	require.NoError(t, err)
	ckpt := filepath.Join(t.TempDir(), "ckpt.json")
	cfg := loadConfig(t, s3c, bucket, dir, db, "target")
	cfg.Loader.Rules, cfg.CheckpointPath = rs, ckpt
	_, err = exportload.Load(t.Context(), cfg)
	require.NoError(t, err)

	other, err := rules.Parse("other.yaml", []byte("rules: [{exclude: [email]}]"))
	require.NoError(t, err)
	for name, rs := range map[string]*rules.RuleSet{"without rules": nil, "other rules": other} {
		cfg := loadConfig(t, s3c, bucket, dir, db, "target")
		cfg.Loader.Rules, cfg.CheckpointPath = rs, ckpt
		_, err := exportload.Load(t.Context(), cfg)
		assert.ErrorIs(t, err, exportload.ErrCheckpointMismatch, name)
	}
	cfg = loadConfig(t, s3c, bucket, dir, db, "target")
	cfg.Loader.Rules, cfg.CheckpointPath = rs, ckpt
	rep, err := exportload.Load(t.Context(), cfg)
	require.NoError(t, err, "the same rules resume")
	assert.Equal(t, 2, rep.FilesSkipped)
	for _, it := range scanAll(t, db, "target") {
		assert.NotContains(t, it, "email")
	}
}
