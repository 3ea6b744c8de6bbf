package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
)

// TestBackfillConfig_StepFunctionsRefusesTargetRole: the backfill state
// machine's workers write with their own role in the stack's account, so
// --target-role-arn with --on step-functions (which the CLI would use to
// check the target) is refused instead of checking one table and loading
// another.
func TestBackfillConfig_StepFunctionsRefusesTargetRole(t *testing.T) {
	var c BackfillConfig
	fs := pflag.NewFlagSet("backfill", pflag.ContinueOnError)
	c.flags(fs)
	require.NoError(t, fs.Parse([]string{"--table", "orders", "--target-table", "orders-copy",
		"--from-export", "arn:aws:dynamodb:us-east-1:111111111111:table/orders/export/01700000000000-abcdef01",
		"--on", "step-functions", "--stack", "ddbsync-backfill",
		"--target-role-arn", "arn:aws:iam::222222222222:role/ddbsync-target"}))
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--target-role-arn")
}

// TestBackfillCommand_FromExportOfAnotherAccount: an export of a table with
// --table's name in another account or region is refused (the ARN is
// compared, not the name), before anything is written.
func TestBackfillCommand_FromExportOfAnotherAccount(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 1, 3, time.Now().Add(-time.Hour), nil)
	client := exporttest.S3Client(e.s3)
	e.dir, _ = exporttest.Write(t, client, e.bucket, "exports/other", e.files, exporttest.Options{
		ExportTime: time.Now().Add(-time.Hour), TableARN: "arn:aws:dynamodb:eu-west-1:999999999999:table/source"})
	code, _, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--yes")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "arn:aws:dynamodb:eu-west-1:999999999999:table/source")
	assert.Zero(t, e.items(t, "target"), "nothing written")
}

// TestTableFlags_SameTableWithRole: a target of the same name reached
// through --target-role-arn is another account's table, not the source.
func TestTableFlags_SameTableWithRole(t *testing.T) {
	tf := tableFlags{Table: "orders", TargetTable: "orders",
		roleFlags: roleFlags{TargetRoleARN: "arn:aws:iam::222222222222:role/ddbsync-target"}}
	assert.False(t, tf.sameTable())
	assert.NoError(t, sameTableError(tf, writeFlags{}, false))
	assert.True(t, tableFlags{Table: "orders", TargetTable: "orders"}.sameTable(), "without a role: the same table")
}

func TestSameTableARN(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want bool
	}{
		"equal":                {a: "arn:aws:dynamodb:us-east-1:111111111111:table/orders", b: "arn:aws:dynamodb:us-east-1:111111111111:table/orders", want: true},
		"other account":        {a: "arn:aws:dynamodb:us-east-1:111111111111:table/orders", b: "arn:aws:dynamodb:us-east-1:222222222222:table/orders"},
		"other region":         {a: "arn:aws:dynamodb:us-east-1:111111111111:table/orders", b: "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"},
		"other name":           {a: "arn:aws:dynamodb:us-east-1:111111111111:table/orders", b: "arn:aws:dynamodb:us-east-1:111111111111:table/order"},
		"DynamoDB Local":       {a: "arn:aws:dynamodb:us-east-1:000000000000:table/source", b: "arn:aws:dynamodb:ddblocal:000000000000:table/source", want: true},
		"DynamoDB Local, acct": {a: "arn:aws:dynamodb:us-east-1:999999999999:table/source", b: "arn:aws:dynamodb:ddblocal:000000000000:table/source"},
		"not an ARN":           {a: "orders", b: "orders", want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, sameTableARN(tt.a, tt.b))
		})
	}
}
