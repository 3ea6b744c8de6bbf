package main

import (
	"encoding/base64"
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
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// TestBootstrap_Rules runs the built function under the Runtime Interface
// Emulator with a rule set against DynamoDB Local, and POSTs the events of
// testdata/rules/ in turn: the target table must then hold exactly the
// filtered, reshaped and re-keyed items. The rule set (orders.yaml) keeps
// tenant acme, drops email and sk, renames status to state and keys the
// target by pk = tenant#id; one function reads it from RULES_FILE (under
// LAMBDA_TASK_ROOT) with ttl_deletes: skip, another from RULES (base64)
// with ttl_deletes: replicate.
func TestBootstrap_Rules(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	client := db.DynamoDB(keyID)
	for _, table := range []string{"orders-acme", "orders-acme-ttl"} {
		_, err := ddblocal.CreateTable(ctx, client, ddblocal.TableSpec{Name: table, HashKey: "pk"})
		require.NoError(t, err)
	}
	taskRoot, err := filepath.Abs("testdata")
	require.NoError(t, err)
	ruleSet, err := os.ReadFile(filepath.Join("testdata", "rules", "orders.yaml"))
	require.NoError(t, err)
	replicateTTL := strings.Replace(string(ruleSet), "ttl_deletes: skip", "ttl_deletes: replicate", 1)
	require.NotEqual(t, string(ruleSet), replicateTTL)

	bootstrap := testkit.Bootstrap(t, "./cmd/replicator")
	start := func(env ...string) *rie.Emulator {
		return testkit.StartRIE(t, rie.Options{
			Bootstrap: bootstrap,
			Env:       append(append(db.Env(keyID), "AWS_LAMBDA_LOG_FORMAT=JSON"), env...),
			Timeout:   30 * time.Second,
		})
	}
	skipTTL := start("TARGET_TABLE_NAME=orders-acme", "LAMBDA_TASK_ROOT="+taskRoot, "RULES_FILE=rules/orders.yaml")
	keepTTL := start("TARGET_TABLE_NAME=orders-acme-ttl", "RULES="+base64.StdEncoding.EncodeToString([]byte(replicateTTL)))

	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	order := func(id, state, total string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s("acme#" + id), "tenant": s("acme"), "id": s(id), "state": s(state),
			"total": &types.AttributeValueMemberN{Value: total}}
	}
	order1 := order("1", "NEW", "12345678901234567890123456789012345678") // 38 digits, exact
	order6 := order("6", "NEW", "1999.5")
	order6["expires"] = &types.AttributeValueMemberN{Value: "1796169000"}

	steps := []struct {
		fn         *rie.Emulator
		table      string
		event      string
		wantFailed string // the itemIdentifier reported, "" for none
		want       map[string]map[string]types.AttributeValue
	}{
		{skipTTL, "orders-acme", "1-inserts", "", map[string]map[string]types.AttributeValue{ // order#2 is globex: filtered out
			"acme#1": order1, "acme#3": order("3", "NEW", "1999.5"), "acme#4": order("4", "NEW", "1999.5"),
			"acme#5": order("5", "NEW", "1999.5"), "acme#6": order6,
		}},
		{skipTTL, "orders-acme", "2-modify", "", map[string]map[string]types.AttributeValue{ // acme#3 left, acme#2 entered, acme#4 became acme#40
			"acme#1": order1, "acme#2": order("2", "PAID", "1999.5"), "acme#40": order("40", "SHIPPED", "1999.5"),
			"acme#5": order("5", "NEW", "1999.5"), "acme#6": order6,
		}},
		{skipTTL, "orders-acme", "3-remove", "", map[string]map[string]types.AttributeValue{ // acme#5 removed; order#3's REMOVE writes nothing
			"acme#1": order1, "acme#2": order("2", "PAID", "1999.5"), "acme#40": order("40", "SHIPPED", "1999.5"), "acme#6": order6,
		}},
		{skipTTL, "orders-acme", "4-ttl-remove", "", map[string]map[string]types.AttributeValue{ // ttl_deletes: skip keeps acme#6
			"acme#1": order1, "acme#2": order("2", "PAID", "1999.5"), "acme#40": order("40", "SHIPPED", "1999.5"), "acme#6": order6,
		}},
		{skipTTL, "orders-acme", "5-collision", "4200000000000000001400", map[string]map[string]types.AttributeValue{ // order#9 maps to acme#8 too
			"acme#1": order1, "acme#2": order("2", "PAID", "1999.5"), "acme#40": order("40", "SHIPPED", "1999.5"), "acme#6": order6,
			"acme#8": order("8", "NEW", "1999.5"), "acme#10": order("10", "NEW", "1999.5"),
		}},
		{keepTTL, "orders-acme-ttl", "1-inserts", "", map[string]map[string]types.AttributeValue{
			"acme#1": order1, "acme#3": order("3", "NEW", "1999.5"), "acme#4": order("4", "NEW", "1999.5"),
			"acme#5": order("5", "NEW", "1999.5"), "acme#6": order6,
		}},
		{keepTTL, "orders-acme-ttl", "4-ttl-remove", "", map[string]map[string]types.AttributeValue{ // ttl_deletes: replicate deletes acme#6
			"acme#1": order1, "acme#3": order("3", "NEW", "1999.5"), "acme#4": order("4", "NEW", "1999.5"),
			"acme#5": order("5", "NEW", "1999.5"),
		}},
	}
	for _, step := range steps {
		t.Run(step.table+"/"+step.event, func(t *testing.T) {
			event, err := os.ReadFile(filepath.Join("testdata", "rules", step.event+".json"))
			require.NoError(t, err)
			resp, err := step.fn.Invoke(ctx, event)
			require.NoError(t, err, "function logs:\n%s", step.fn.Logs())
			want := `{"batchItemFailures":[]}`
			if step.wantFailed != "" {
				want = `{"batchItemFailures":[{"itemIdentifier":"` + step.wantFailed + `"}]}`
			}
			assert.JSONEq(t, want, string(resp), "function logs:\n%s", step.fn.Logs())
			assert.Equal(t, step.want, scanByPK(t, client, step.table))
		})
	}
	assertLogs(t, skipTTL, `"rules":"RULES_FILE `+filepath.Join(taskRoot, "rules", "orders.yaml")+`"`)
	assertLogs(t, skipTTL, `"ruleCount":5`)
	assertLogs(t, skipTTL, `"filtered":1`)
	assertLogs(t, skipTTL, `"ttlSkipped":1`)
	assertLogs(t, skipTTL, `target key collision`)
	assertLogs(t, skipTTL, `"TTLDeletesSkipped"`)
	assertLogs(t, keepTTL, `"rules":"RULES"`)
	assert.NotContains(t, skipTTL.Logs(), "buyer1@example.com", "no item values in the logs")
	assert.NotContains(t, skipTTL.Logs(), "order#9", "no key values in the logs: the collision names the earlier record")
}

// scanByPK returns the items of a table keyed by pk alone.
func scanByPK(tb testing.TB, client *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	tb.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(tb.Context())
		require.NoError(tb, err)
		for _, item := range page.Items {
			out[item["pk"].(*types.AttributeValueMemberS).Value] = item
		}
	}
	return out
}
