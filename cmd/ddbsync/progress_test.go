package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// jsonLines decodes every line of s that starts with "{" as a JSON object
// (one that does not decode fails the test); the other lines are messages
// for people.
func jsonLines(tb testing.TB, s string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal(sc.Bytes(), &m), "not a JSON line: %q", sc.Text())
		out = append(out, m)
	}
	return out
}

// TestProgress_JSONEvents: with --output json or jsonl, backfill, verify
// and run write JSON progress events (docs/progress.md) on stderr even when
// it is not a terminal, one per line, among the lines for people (the plan,
// warnings); the report stays on stdout.
func TestProgress_JSONEvents(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	syncTables(t, keyID, 120, false)

	t.Run("backfill", func(t *testing.T) {
		code, stdout, stderr := localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy", "--output", "json", "--yes")
		require.Equal(t, exitOK, code, stderr)
		events := jsonLines(t, stderr)
		require.NotEmpty(t, events, "a JSON event at least at the end")
		last := events[len(events)-1]
		assert.Equal(t, "progress", last["event"])
		assert.Equal(t, "backfill", last["command"])
		assert.EqualValues(t, 120, last["items"])
		assert.Equal(t, true, last["final"])
		reports := jsonLines(t, stdout)
		require.Len(t, reports, 1, "stdout holds the one JSON report:\n%s", stdout)
		assert.Equal(t, "backfill", reports[0]["command"])
		assert.EqualValues(t, 120, reports[0]["copied"])
		assert.Contains(t, reports[0]["next"], "ddbsync verify --repair --endpoint-url ")
	})

	t.Run("verify", func(t *testing.T) {
		code, stdout, stderr := localCmd(t, keyID, "verify", "--table", "orders", "--target-table", "orders-copy", "--output", "jsonl", "--recheck-delay", "0")
		require.Equal(t, exitOK, code, stderr)
		events := jsonLines(t, stderr)
		require.NotEmpty(t, events)
		for _, ev := range events {
			assert.Equal(t, "verify", ev["command"])
			assert.Contains(t, ev["phase"], "verify")
		}
		assert.Empty(t, stdout, "jsonl: one line per difference, and there is none")
	})

	t.Run("text when piped: no progress", func(t *testing.T) {
		code, _, stderr := localCmd(t, keyID, "verify", "--table", "orders", "--target-table", "orders-copy", "--recheck-delay", "0")
		require.Equal(t, exitOK, code, stderr)
		assert.NotContains(t, stderr, "items/s")
	})

	t.Run("run", func(t *testing.T) {
		ctx := t.Context()
		s := testkit.DDB(t)
		runKey := testkit.NewAccessKeyID(t)
		streamTables(t, s.DynamoDB(runKey), "pk")
		var stdout, stderr bytes.Buffer
		cmd := &RunCommand{Stdout: &stdout, Stderr: &stderr,
			awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(runKey), nil }}
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err := cmd.Run(runCtx, []string{"--endpoint-url", s.Endpoint, "--table", "source", "--target-table", "target",
			"--exit-when-idle", "1s", "--progress-interval", "100ms", "--output", "jsonl"})
		require.NoError(t, err, "stderr:\n%s", stderr.String())
		events := jsonLines(t, stderr.String())
		require.NotEmpty(t, events, "JSON progress events on a piped stderr:\n%s", stderr.String())
		for _, ev := range events {
			assert.Equal(t, "progress", ev["event"])
			assert.Equal(t, "run", ev["command"])
			assert.Contains(t, ev, "recordsPerSecond")
		}
	})
}
