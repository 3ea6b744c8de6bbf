package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifyCommand_ReportAndRepair(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	db := syncTables(t, keyID, 20, false)
	for i := range 20 {
		if i != 3 { // missing
			putItem(t, db, "orders-copy", order(i, "new"))
		}
	}
	putItem(t, db, "orders-copy", order(7, "shipped")) // different
	putItem(t, db, "orders-copy", order(99, "new"))    // extra
	args := []string{"--table", "orders", "--target-table", "orders-copy", "--recheck-delay", "0", "--quiet"}

	code, stdout, stderr := localCmd(t, keyID, "verify", append(args, "--output", "jsonl")...)
	assert.Equal(t, exitError, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, stdout)
	assert.ElementsMatch(t, []string{
		`{"kind":"missing","key":{"id":{"S":"order-003"}}}`,
		`{"kind":"different","key":{"id":{"S":"order-007"}},"attributes":["status"]}`,
		`{"kind":"extra","key":{"id":{"S":"order-099"}}}`,
	}, lines)
	assert.Contains(t, stderr, "verify: source 20 items, target 20 items: 1 missing, 1 extra, 1 different")
	assert.Contains(t, stderr, "ddbsync verify: tables differ: 1 missing, 1 extra, 1 different; fix with: ddbsync verify --repair")

	_, stdout, _ = localCmd(t, keyID, "verify", append(args, "--output", "jsonl", "--show-values")...)
	assert.Contains(t, stdout, `"source":{`)
	assert.Contains(t, stdout, `"status":{"S":"shipped"}`)

	diffs := filepath.Join(t.TempDir(), "diffs.jsonl")
	require.NoError(t, os.WriteFile(diffs, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	code, stdout, _ = localCmd(t, keyID, "repair", "--table", "orders", "--target-table", "orders-copy", "--from", diffs, "--dry-run")
	assert.Equal(t, exitError, code, "a dry run that finds differences")
	assert.Contains(t, stdout, `would put {"id":{"S":"order-003"}}`)
	assert.Contains(t, stdout, `would delete {"id":{"S":"order-099"}}`)
	assert.Contains(t, stdout, "repair: would repair (dry run) 3: 2 puts, 1 deletes")

	code, stdout, stderr = localCmd(t, keyID, "repair", "--table", "orders", "--target-table", "orders-copy", "--from", diffs, "--yes")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "repair: repaired 3: 2 puts, 1 deletes; 0 already equal; 0 conflicts with live writes re-read; 0 failed")

	code, stdout, _ = localCmd(t, keyID, "verify", args...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "the tables are identical")

	// verify --repair fixes what it finds.
	putItem(t, db, "orders", order(50, "new"))
	putItem(t, db, "orders-copy", order(1, "lost"))
	code, stdout, stderr = localCmd(t, keyID, "verify", append(args, "--repair", "--yes")...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "1 missing, 0 extra, 1 different")
	assert.Contains(t, stdout, "repair: repaired 2: 2 puts, 0 deletes")
	code, _, _ = localCmd(t, keyID, "repair", "--table", "orders", "--target-table", "orders-copy", "--dry-run", "--recheck-delay", "0")
	assert.Equal(t, exitOK, code, "nothing left to repair")
}

// TestVerifyCommand_FailureIsNotAResult: a verify that cannot reach
// DynamoDB printed "0 missing, 0 extra, 0 different" before its error, and
// an interrupted one its partial counts as if final.
func TestVerifyCommand_FailureIsNotAResult(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	interrupted, cancel := context.WithCancel(t.Context())
	cancel()
	tests := map[string]struct {
		ctx        context.Context
		wantStderr string
	}{
		"connection refused": {t.Context(), "ddbsync verify: failed after 0 items"},
		"interrupted":        {interrupted, "ddbsync verify: interrupted: after 0 items, before a result"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := (&VerifyCommand{Stdout: &out, Stderr: &errOut}).Run(tt.ctx, []string{
				"--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--table", "a", "--target-table", "b", "--quiet"})
			require.Error(t, err) // the exit code of an interruption is main's
			exitCode(&errOut, "verify", err)
			assert.NotContains(t, out.String()+errOut.String(), "0 missing, 0 extra, 0 different")
			assert.Contains(t, errOut.String(), tt.wantStderr)
		})
	}
}

// TestVerifyCommand_HintCarriesFlags: the fix printed by verify went to
// AWS, without the --endpoint-url and --region the user gave.
func TestVerifyCommand_HintCarriesFlags(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	syncTables(t, keyID, 2, false)
	code, _, stderr := localCmd(t, keyID, "verify", "--region", "us-west-2", "--table", "orders", "--target-table", "orders-copy", "--recheck-delay", "0", "--quiet")
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "fix with: ddbsync verify --repair --endpoint-url "+testkit.DDB(t).Endpoint+" --region us-west-2 --table orders --target-table orders-copy\n")
}

// TestVerifyCommand_SeqAttribute: a queue-path target item carries the
// sequence attribute; verify and repair leave it out of the comparison
// under the name given by --seq-attribute.
func TestVerifyCommand_SeqAttribute(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db := syncTables(t, keyID, 1, false)
	item := order(0, "new")
	item["ver"] = &types.AttributeValueMemberS{Value: "00000000000000000042"}
	putItem(t, db, "orders-copy", item)
	args := []string{"--table", "orders", "--target-table", "orders-copy", "--recheck-delay", "0", "--quiet"}

	code, _, stderr := localCmd(t, keyID, "verify", args...)
	assert.Equal(t, exitError, code, "ver is an attribute like any other")
	assert.Contains(t, stderr, "0 missing, 0 extra, 1 different; fix with: ddbsync verify --repair --endpoint-url")

	code, stdout, stderr := localCmd(t, keyID, "verify", append(args, "--seq-attribute", "ver")...)
	assert.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "the tables are identical")
}
