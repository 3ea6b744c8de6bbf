package main

import (
	"context"
	"fmt"
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
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// syncRules drops an attribute, renames one, re-keys the copy (pk =
// tenant#id) and filters out one tenant.
const syncRules = `rules:
  - name: no-initech
    filter: tenant != "initech"
  - exclude: [tags]
  - rename: {status: state}
  - key: {pk: 'tenant + "#" + id'}
`

// rulesTables creates orders (keyed by id, count orders of tenants in
// turn) and orders-copy keyed by pk, and writes the rule set.
func rulesTables(t *testing.T, keyID string, count int) (*dynamodb.Client, string) {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(keyID)
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders-copy", HashKey: "pk"})
	require.NoError(t, err)
	for i := range count {
		putItem(t, db, "orders", tenantOrder(i, []string{"acme", "globex", "initech"}[i%3]))
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(syncRules), 0o600))
	return db, path
}

func tenantOrder(i int, tenant string) map[string]types.AttributeValue {
	o := order(i, "new")
	o["tenant"] = &types.AttributeValueMemberS{Value: tenant}
	return o
}

func pk(v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: v}}
}

// TestSyncCommands_Rules: backfill, verify and repair with --rules against
// DynamoDB Local: the plan shows the rule set and the target key, the copy
// verifies clean, each way the copy can go wrong is found (with both keys
// in the JSON lines) and repaired, and a forgotten --rules is refused
// before any write.
func TestSyncCommands_Rules(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	db, rulesFile := rulesTables(t, keyID, 30)
	tables := []string{"--table", "orders", "--target-table", "orders-copy"}
	verify := append(append([]string{}, tables...), "--rules", rulesFile, "--recheck-delay", "0", "--quiet")

	code, _, stderr := localCmd(t, keyID, "backfill", append(tables, "--yes")...)
	assert.Equal(t, exitAWS, code, "a forgotten --rules")
	assert.Contains(t, stderr, "key schemas differ")
	assert.Contains(t, stderr, "pass it with --rules FILE")
	out, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String("orders-copy"), Select: types.SelectCount})
	require.NoError(t, err)
	assert.Zero(t, out.Count, "refused before any write")

	code, stdout, stderr := localCmd(t, keyID, "backfill", append(tables, "--rules", rulesFile, "--yes")...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "rules:    "+rulesFile+", 4 rules")
	assert.Contains(t, stderr, "target key schema [pk (S)], re-keyed from the source's [id (S)]")
	assert.Contains(t, stdout, "backfill: 20 items copied from orders to orders-copy")
	assert.Contains(t, stdout, "; 10 filtered out by the rules")
	assert.Contains(t, stdout, "next: ddbsync verify --repair --endpoint-url "+testkit.DDB(t).Endpoint+" --table orders --target-table orders-copy --rules "+rulesFile)

	code, stdout, stderr = localCmd(t, keyID, "verify", verify...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "source 30 items, target 20 items: 0 missing, 0 extra, 0 different (10 source items filtered out)")

	// Break the copy: an item that left the filter, a stale item at its
	// old key after a re-key (and so one missing at the new), a missing
	// item, a wrong value.
	putItem(t, db, "orders", tenantOrder(0, "initech"))
	putItem(t, db, "orders", tenantOrder(1, "acme"))
	_, err = db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String("orders-copy"), Key: pk("acme#order-003")})
	require.NoError(t, err)
	wrong := pk("acme#order-006")
	wrong["id"], wrong["tenant"] = &types.AttributeValueMemberS{Value: "order-006"}, &types.AttributeValueMemberS{Value: "acme"}
	wrong["state"], wrong["total"] = &types.AttributeValueMemberS{Value: "lost"}, &types.AttributeValueMemberN{Value: "6.50"}
	putItem(t, db, "orders-copy", wrong)

	code, stdout, _ = localCmd(t, keyID, "verify", append(verify, "--output", "jsonl")...)
	assert.Equal(t, exitError, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	assert.ElementsMatch(t, []string{
		`{"kind":"extra","key":{"pk":{"S":"acme#order-000"}},"source_key":{"id":{"S":"order-000"}},"target_key":{"pk":{"S":"acme#order-000"}}}`,
		`{"kind":"extra","key":{"pk":{"S":"globex#order-001"}},"source_key":{"id":{"S":"order-001"}},"target_key":{"pk":{"S":"globex#order-001"}}}`,
		`{"kind":"missing","key":{"pk":{"S":"acme#order-001"}},"source_key":{"id":{"S":"order-001"}},"target_key":{"pk":{"S":"acme#order-001"}}}`,
		`{"kind":"missing","key":{"pk":{"S":"acme#order-003"}},"source_key":{"id":{"S":"order-003"}},"target_key":{"pk":{"S":"acme#order-003"}}}`,
		`{"kind":"different","key":{"pk":{"S":"acme#order-006"}},"attributes":["state"],"source_key":{"id":{"S":"order-006"}},"target_key":{"pk":{"S":"acme#order-006"}}}`,
	}, lines)

	// repair --from the missing and different lines, then verify --repair
	// for the extra ones.
	var fix []string
	for _, l := range lines {
		if !strings.Contains(l, `"kind":"extra"`) {
			fix = append(fix, l)
		}
	}
	diffs := filepath.Join(t.TempDir(), "diffs.jsonl")
	require.NoError(t, os.WriteFile(diffs, []byte(strings.Join(fix, "\n")+"\n"), 0o600))
	code, stdout, stderr = localCmd(t, keyID, "repair", append(tables, "--rules", rulesFile, "--from", diffs, "--yes")...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "rules:    "+rulesFile)
	assert.Contains(t, stdout, "repair: repaired 3: 3 puts, 0 deletes")
	code, stdout, stderr = localCmd(t, keyID, "verify", append(verify, "--repair", "--yes")...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "0 missing, 2 extra, 0 different")
	assert.Contains(t, stdout, "2 deletes")
	code, stdout, stderr = localCmd(t, keyID, "verify", verify...)
	require.Equal(t, exitOK, code, stderr+stdout)
	assert.Contains(t, stdout, "the tables are identical")
}

// TestSyncCommands_RulesCollision: a key rule that maps items to one
// target key: backfill names the collisions and fails; verify reports
// them, and verify --repair leaves them with an error.
func TestSyncCommands_RulesCollision(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	db := testkit.DDB(t).DynamoDB(keyID)
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders-copy", HashKey: "pk"})
	require.NoError(t, err)
	for i := range 4 {
		putItem(t, db, "orders", tenantOrder(i, []string{"acme", "globex"}[i%2]))
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte(`rules: [{key: {pk: 'tenant'}}]`), 0o600))
	tables := []string{"--table", "orders", "--target-table", "orders-copy", "--rules", rulesFile}

	code, _, stderr := localCmd(t, keyID, "backfill", append(tables, "--segments", "1", "--yes")...)
	assert.Equal(t, exitError, code)
	assert.Equal(t, 2, strings.Count(stderr, "item not copied"), stderr)
	assert.Contains(t, stderr, "target key collision")
	assert.Contains(t, stderr, "items not copied: 2 items (2 collisions)")

	code, stdout, _ := localCmd(t, keyID, "verify", append(tables, "--recheck-delay", "0", "--output", "json")...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stdout, `"collisions":2`)
	code, _, stderr = localCmd(t, keyID, "verify", append(tables, "--recheck-delay", "0", "--repair", "--yes")...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "2 target key collisions and 0 rule errors are left")
}

// TestBackfillCommand_StepFunctionsRefusesRules: the state machine's
// workers take the stack's ReplicationRules.
func TestBackfillCommand_StepFunctionsRefusesRules(t *testing.T) {
	err := BackfillConfig{tableFlags: tableFlags{Table: "a", TargetTable: "b"}, WriteAttempts: 1, scanFlags: scanFlags{Segments: 1, Concurrency: 1},
		exportFlags: exportFlags{FromExport: "s3://b/p", On: onStepFunctions, Stack: "s"}, rulesFlag: rulesFlag{RulesFile: "r.yaml"}}.Validate()
	var fe *FlagError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, fmt.Sprint(err), "ReplicationRules")
}

// TestBackfillCommand_FromExportRules loads an export through --rules
// (a filter and a rename) and verifies the copy clean with the same rules.
func TestBackfillCommand_FromExportRules(t *testing.T) {
	e := newExportEnv(t, 2, 20, time.Now().Add(-time.Hour), nil)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - filter: pk == \"f00\"\n  - rename: {v: value}\n"), 0o600))
	code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--rules", rulesFile, "--quiet", "--yes")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "rules:    "+rulesFile+", 2 rules")
	assert.Contains(t, stdout, "(20 written by this run, 0 files done before, 0 retries, 20 filtered out by the rules)")
	assert.EqualValues(t, 20, e.items(t, "target"))

	code, stdout, stderr = localCmd(t, e.keyID, "verify", "--table", "source", "--target-table", "target", "--rules", rulesFile, "--quiet")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "(20 source items filtered out)")
	assert.Contains(t, stdout, "verify: the tables are identical")
	code, _, _ = localCmd(t, e.keyID, "verify", "--table", "source", "--target-table", "target", "--quiet", "--recheck-delay", "0")
	assert.Equal(t, exitError, code, "without the rules the copy differs")
}

// TestRedriveCommand_Rules redrives a failed batch with --rules: a
// re-keyed order ends at its new target key, its old copy deleted, and an
// order that left the filter loses its copy.
func TestRedriveCommand_Rules(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	db, rulesFile := rulesTables(t, keyID, 0)
	arn := aws.ToString(describeStreamARN(t, db, "orders"))
	putItem(t, db, "orders", tenantOrder(1, "acme"))
	putItem(t, db, "orders", tenantOrder(1, "globex")) // re-keyed
	putItem(t, db, "orders", tenantOrder(2, "acme"))
	putItem(t, db, "orders", tenantOrder(2, "initech")) // left the filter
	copyOf := func(i int, tenant string) map[string]types.AttributeValue {
		c := pk(tenant + fmt.Sprintf("#order-%03d", i))
		o := tenantOrder(i, tenant)
		c["id"], c["tenant"], c["state"], c["total"] = o["id"], o["tenant"], o["status"], o["total"]
		return c
	}
	putItem(t, db, "orders-copy", copyOf(1, "acme")) // the batch never reached the copy
	putItem(t, db, "orders-copy", copyOf(2, "acme"))
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(batchLine(t, keyID, arn, 0, 3)+"\n"), 0o600))

	s := testkit.DDB(t)
	var out, errOut strings.Builder
	cmd := &RedriveCommand{Stdout: &out, Stderr: &errOut, awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(t.Context(), []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy",
		"--rules", rulesFile, "--failure-file", file, "--yes"})
	require.NoError(t, err, errOut.String())
	assert.Contains(t, errOut.String(), "rules:    "+rulesFile+", 4 rules")
	assert.Contains(t, out.String(), "1 batches redriven")

	got := map[string]bool{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String("orders-copy"), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, it := range page.Items {
			got[it["pk"].(*types.AttributeValueMemberS).Value] = true
		}
	}
	assert.Equal(t, map[string]bool{"globex#order-001": true}, got)
}

// describeStreamARN returns table's latest stream ARN.
func describeStreamARN(t *testing.T, db *dynamodb.Client, table string) *string {
	t.Helper()
	out, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	return out.Table.LatestStreamArn
}

// TestVerifyCommand_RulesTTLSkipKeepsExpiredCopies: with ttl_deletes: skip,
// the copy of an item the source's TTL expired (DynamoDB Local deletes
// nothing by TTL: the source item is deleted by hand) is no difference:
// verify --rules reads the source's TTL attribute (renamed by the rules
// here), says the tables are identical and counts the kept copy; a copy
// whose TTL is in the future is still extra.
func TestVerifyCommand_RulesTTLSkipKeepsExpiredCopies(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	db := testkit.DDB(t).DynamoDB(keyID)
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders-copy", HashKey: "id"})
	require.NoError(t, err)
	_, err = db.UpdateTimeToLive(t.Context(), &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("orders"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expires"), Enabled: aws.Bool(true)}})
	require.NoError(t, err)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules: [{rename: {expires: expires_at}}]\nttl_deletes: skip\n"), 0o600))
	id := func(v string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: v}}
	}
	at := func(d time.Duration) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(d).Unix())}
	}
	live := id("order-001")
	live["expires"] = at(time.Hour)
	putItem(t, db, "orders", live)
	liveCopy := id("order-001")
	liveCopy["expires_at"] = live["expires"]
	putItem(t, db, "orders-copy", liveCopy)
	expired := id("order-002") // its source item expired and was deleted
	expired["expires_at"] = at(-time.Hour)
	putItem(t, db, "orders-copy", expired)
	verify := []string{"--table", "orders", "--target-table", "orders-copy", "--rules", rulesFile, "--recheck-delay", "0", "--quiet"}

	code, stdout, stderr := localCmd(t, keyID, "verify", verify...)
	require.Equal(t, exitOK, code, stderr+stdout)
	assert.Contains(t, stdout, "source 1 items, target 2 items: 0 missing, 0 extra, 0 different (1 expired copies kept)")
	assert.Contains(t, stdout, "the tables are identical")
	code, stdout, _ = localCmd(t, keyID, "verify", append(verify, "--output", "json")...)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"expired_kept":1`)

	future := id("order-003") // no source item, and not expired: extra
	future["expires_at"] = at(time.Hour)
	putItem(t, db, "orders-copy", future)
	code, stdout, _ = localCmd(t, keyID, "verify", verify...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stdout, "0 missing, 1 extra, 0 different (1 expired copies kept)")
}
