package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// TestRules_LiveBackfillVerify makes a filtered, reshaped, re-keyed copy
// in the safe order, with one rule set everywhere (syncRules: drop tags,
// rename status to state, pk = tenant#id, no initech): items exist before
// the stream; the built bootstrap under the Lambda Runtime Interface
// Emulator, with the rule set in RULES, replicates the stream live
// (`ddbsync run --invoke-url`); `backfill --rules` copies the existing
// items while writes move items between tenants (into and out of the
// filter, and so to other target keys), change them, delete and insert
// them; `verify --rules --repair` fixes what the backfill wrote stale;
// then `verify --rules` finds the copy clean, and the target equals the
// rule set applied by hand to the test's own model of the source.
func TestRules_LiveBackfillVerify(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work
	ctx := t.Context()
	bootstrap := testkit.Bootstrap(t, "./cmd/replicator")
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)

	// The source exists before its stream: only the backfill copies
	// these items.
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "orders", HashKey: "id"})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "orders-copy", HashKey: "pk"})
	require.NoError(t, err)
	tenants := []string{"acme", "globex", "initech"}
	model := map[string]map[string]types.AttributeValue{} // id -> source item
	put := func(item map[string]types.AttributeValue) {
		t.Helper()
		putItem(t, db, "orders", item)
		model[item["id"].(*types.AttributeValueMemberS).Value] = item
	}
	for i := range 90 {
		put(tenantOrder(i, tenants[i%3]))
	}
	_, err = db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("orders"),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	require.NoError(t, err)

	fn := testkit.StartRIE(t, rie.Options{
		Bootstrap: bootstrap,
		Env:       append(s.Env(keyID), "TARGET_TABLE_NAME=orders-copy", "RULES="+syncRules),
		Timeout:   time.Minute,
	})
	dir := t.TempDir()
	live := startRun(t, s, keyID, "--table", "orders", "--invoke-url", fn.InvokeURL,
		"--failure-file", filepath.Join(dir, "failures.jsonl"), "--progress-interval", "5s")

	rulesFile := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte(syncRules), 0o600))
	tables := []string{"--table", "orders", "--target-table", "orders-copy", "--rules", rulesFile}
	var wg sync.WaitGroup
	var backfillCode int
	var backfillOut, backfillErr string
	wg.Go(func() {
		backfillCode, backfillOut, backfillErr = localCmd(t, keyID, "backfill", append(tables, "--segments", "3", "--yes")...)
	})

	// While the backfill runs: every third item changes tenant (acme ->
	// globex -> initech -> acme: leaves the filter, enters it, re-keys),
	// others change status, some are deleted, new ones arrive, one with a
	// 38-digit total.
	for i := range 90 {
		id := fmt.Sprintf("order-%03d", i)
		switch {
		case i%3 == 0:
			item := tenantOrder(i, tenants[(i/3+1)%3])
			item["status"] = &types.AttributeValueMemberS{Value: "moved"}
			put(item)
		case i%7 == 0:
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("orders"),
				Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
			require.NoError(t, err)
			delete(model, id)
		case i%5 == 0:
			item := model[id]
			item["status"] = &types.AttributeValueMemberS{Value: "shipped"}
			put(item)
		}
	}
	for i := 90; i < 100; i++ {
		item := tenantOrder(i, tenants[i%3])
		if i == 91 {
			item["total"] = &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"}
		}
		put(item)
	}
	wg.Wait()
	require.Equal(t, exitOK, backfillCode, backfillErr)
	assert.Contains(t, backfillOut, "filtered out by the rules")
	live.finish(t, 2*time.Minute)
	assert.NoFileExists(t, filepath.Join(dir, "failures.jsonl"), "the function applied every record")
	assert.Regexp(t, `filtered=[1-9]`, fn.Logs(), "the function filtered records")

	code, stdout, stderr := localCmd(t, keyID, "verify", append(tables, "--repair", "--yes", "--recheck-delay", "0")...)
	require.Equal(t, exitOK, code, stderr+stdout)
	t.Logf("verify --repair after the backfill: %s", strings.TrimSpace(stdout))
	code, stdout, stderr = localCmd(t, keyID, "verify", append(tables, "--recheck-delay", "0")...)
	require.Equal(t, exitOK, code, stderr+stdout)
	assert.Contains(t, stdout, "the tables are identical")

	// The rules applied by hand to the model.
	want := map[string]map[string]types.AttributeValue{}
	for id, src := range model {
		tenant := src["tenant"].(*types.AttributeValueMemberS).Value
		if tenant == "initech" {
			continue
		}
		out := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: tenant + "#" + id}}
		for name, v := range src {
			switch name {
			case "tags":
			case "status":
				out["state"] = v
			default:
				out[name] = v
			}
		}
		want[tenant+"#"+id] = out
	}
	got := scanTable(t, db, "orders-copy", "pk")
	assert.Len(t, got, len(want))
	for pk, w := range want {
		g, ok := got[pk]
		if assert.True(t, ok, "missing %s", pk) {
			assert.True(t, tablecmp.EqualItems(w, g), "%s: %v", pk, tablecmp.DiffItems(w, g))
		}
	}
	for pk := range got {
		assert.Contains(t, want, pk, "extra %s", pk)
	}
}

// scanTable returns a table's items by the string key attribute key.
func scanTable(tb testing.TB, db *dynamodb.Client, table, key string) map[string]map[string]types.AttributeValue {
	tb.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(tb.Context())
		require.NoError(tb, err)
		for _, item := range page.Items {
			out[item[key].(*types.AttributeValueMemberS).Value] = item
		}
	}
	return out
}
