package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// TestRun_Rules replicates DynamoDB Local's stream with --rules in process:
// the target holds the filtered, reshaped and re-keyed items, an item that
// left the filter or changed its target key is gone from it.
func TestRun_Rules(t *testing.T) {
	ctx := t.Context()
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	put := func(pk, tenant, id, status string) {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: map[string]types.AttributeValue{
			"pk": str(pk), "tenant": str(tenant), "id": str(id), "status": str(status), "email": str(pk + "@example.com"),
		}})
		require.NoError(t, err)
	}
	put("o1", "acme", "1", "new")   // in
	put("o2", "globex", "2", "new") // out
	put("o3", "acme", "3", "new")   // in, then leaves the filter
	put("o4", "acme", "4", "new")   // in, then re-keyed to acme#40
	put("o5", "acme", "5", "new")   // in, then removed
	put("o3", "globex", "3", "new")
	put("o4", "acme", "40", "paid")
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("source"), Key: map[string]types.AttributeValue{"pk": str("o5")}})
	require.NoError(t, err)

	file := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`rules:
  - filter: has(item.tenant) && item.tenant == "acme"
  - exclude: [email]
  - rename: {status: state}
  - key: {pk: 'tenant + "#" + id'}
`), 0o644))
	var stdout, stderr bytes.Buffer
	cmd := &RunCommand{Stdout: &stdout, Stderr: &stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = cmd.Run(runCtx, []string{"--endpoint-url", s.Endpoint, "--table", "source", "--target-table", "target",
		"--rules", file, "--exit-when-idle", "500ms", "--batch-size", "3", "--quiet"})
	require.NoError(t, err, "stderr:\n%s", stderr.String())

	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("target"), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	got := map[string]map[string]types.AttributeValue{}
	for _, item := range out.Items {
		got[item["pk"].(*types.AttributeValueMemberS).Value] = item
	}
	want := map[string]map[string]types.AttributeValue{
		"acme#1":  {"pk": str("acme#1"), "tenant": str("acme"), "id": str("1"), "state": str("new")},
		"acme#40": {"pk": str("acme#40"), "tenant": str("acme"), "id": str("40"), "state": str("paid")},
	}
	assert.Equal(t, want, got)
}

// TestRun_KeyRuleNeedsOldImages: a rule set with a key rule is refused on
// a stream without old images before anything is read.
func TestRun_KeyRuleNeedsOldImages(t *testing.T) {
	ctx := t.Context()
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "new-only", HashKey: "pk", StreamViewType: types.StreamViewTypeNewImage})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(file, []byte("rules:\n  - key: {pk: 'tenant + \"#\" + id'}\n"), 0o644))
	var stdout, stderr bytes.Buffer
	err = (&RunCommand{Stdout: &stdout, Stderr: &stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}).Run(ctx,
		[]string{"--endpoint-url", s.Endpoint, "--table", "new-only", "--target-table", "target", "--rules", file})
	assert.Equal(t, exitAWS, exitCode(&stderr, "run", err))
	assert.Contains(t, stderr.String(), "view type NEW_IMAGE: the rule set's key rule needs the old images")
}

// TestRun_RulesRefusedWithInvokeURL: a function at --invoke-url applies
// its own rule set.
func TestRun_RulesRefusedWithInvokeURL(t *testing.T) {
	code, _, stderr := runMain(t, "run", "--table", "a", "--invoke-url", "http://127.0.0.1:9000", "--rules", "rules.yaml")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--rules: cannot be used with --invoke-url: the function applies its own rule set (its RULES or RULES_FILE)")
}

// TestRun_InvalidRules: an invalid rule set is a usage error naming the
// rule and line, before anything is read.
func TestRun_InvalidRules(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("rules:\n  - name: broken\n    set: {x: 'total *'}\n"), 0o644))
	code, _, stderr := runMain(t, "run", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--table", "a", "--target-table", "b", "--rules", file)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, file+`:3: rule "broken"`)
}
