package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRepairCommand_NamesFailedKey: the target rejects A's source value;
// the README says such a key "is named in the output".
func TestRepairCommand_NamesFailedKey(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db, _ := ordersPair(t, keyID)
	putItem(t, db, "orders-copy", version("A", 0, false))
	putItem(t, db, "orders", version("A", 1, true)) // rejected by orders-copy's index
	putItem(t, db, "orders", version("B", 1, false))
	for _, args := range [][]string{
		{"verify", "--repair"},
		{"repair"},
	} {
		extra := []string{"--table", "orders", "--target-table", "orders-copy", "--yes", "--allow-target-stream", "--recheck-delay", "0"}
		code, stdout, stderr := localCmd(t, keyID, "verify", append(args[1:], extra...)...)
		if args[0] == "repair" {
			code, stdout, stderr = localCmd(t, keyID, "repair", extra...)
		}
		t.Logf("%v exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		assert.Equal(t, exitError, code)
		assert.Contains(t, stdout+stderr, `"A"`, "%v: the failed key A is named", args)
	}
}

// TestRepairCommand_InterruptedNamesKeys: an interrupted repair names the
// keys it left (README: "left when the command was interrupted ... it is
// named in the output").
func TestRepairCommand_InterruptedNamesKeys(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	syncTables(t, keyID, 300, false)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	code, stdout, stderr := localIO(t, ctx, keyID, "repair", "", false, "--table", "orders", "--target-table", "orders-copy",
		"--yes", "--max-wcu", "5", "--recheck-delay", "0", "--quiet")
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, stdout+stderr, "order-", "the keys left are named")
}

// cancelOnWrite cancels when the first outcome line is written: a Ctrl-C
// right after the first batch.
type cancelOnWrite struct {
	buf    []byte
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	c.cancel()
	return len(p), nil
}

// TestRedriveCommand_InterruptedIsNotFinal: README: "A command
// that fails or is interrupted ... never prints counts that look final".
func TestRedriveCommand_InterruptedIsNotFinal(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	lines, _ := redriveSetup(t, keyID)
	file := filepath.Join(t.TempDir(), "failures.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(lines["order-000"]+"\n"+lines["order-001"]+"\n"), 0o600))
	s := testkit.DDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	out := &cancelOnWrite{cancel: cancel}
	var errOut bytes.Buffer
	cmd := &RedriveCommand{Stdout: out, Stderr: &errOut, awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }}
	err := cmd.Run(ctx, []string{"--endpoint-url", s.Endpoint, "--table", "orders", "--target-table", "orders-copy", "--failure-file", file, "--yes"})
	code := exitCode(&errOut, "redrive", &interruptedError{err: err})
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.buf, errOut.String())
	assert.Equal(t, exitInterrupted, code)
	assert.NotRegexp(t, `(?m)^redrive: \d+ batches redriven, 0 kept`, string(out.buf), "a final-looking summary after an interruption, one batch unaccounted for")
}

// TestRunConfig_RedriveHint: run's "replay them with"
// hint must repeat --target-region, or the redrive goes to a table of that
// name in the source's region.
func TestRunConfig_RedriveHint(t *testing.T) {
	cfg := RunConfig{Table: "orders", TargetTable: "orders-copy", Region: "us-east-1", TargetRegion: "eu-west-1", FailureFile: "my failures.jsonl"}
	hint := redriveHint(cfg)
	t.Log(hint)
	assert.Contains(t, hint, "--target-region eu-west-1")
	assert.Contains(t, hint, "'my failures.jsonl'")
}

// TestRedriveConfig_HintCarriesQueueFlags: the hint that repeats a
// redrive with --yes keeps the user's SQS endpoint and limits, so it never
// goes to real SQS.
func TestRedriveConfig_HintCarriesQueueFlags(t *testing.T) {
	cfg := RedriveConfig{QueueURL: "http://127.0.0.1:5000/123456789012/failures", SQSEndpoint: "http://127.0.0.1:5000",
		MaxMessages: 3, VisibilityTimeout: time.Minute, DropExpired: true}
	assert.Equal(t, []string{"--queue-url", "http://127.0.0.1:5000/123456789012/failures", "--sqs-endpoint-url", "http://127.0.0.1:5000",
		"--max-messages", "3", "--visibility-timeout", "1m0s", "--drop-expired"}, cfg.sourceArgs())
	assert.Equal(t, []string{"--failure-file", "'my failures.jsonl'"}, RedriveConfig{FailureFile: "my failures.jsonl"}.sourceArgs())
}
