package replicator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicator"
)

// fakeDynamoDB answers every DynamoDB call with success and records which
// operations were called on which table.
type fakeDynamoDB struct {
	mu    sync.Mutex
	calls []string // "Operation table"
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	table := "?"
	if strings.Contains(string(body), `"copy"`) {
		table = "copy"
	}
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+table)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if op == "BatchWriteItem" {
		_, _ = io.WriteString(w, `{"UnprocessedItems":{}}`)
		return
	}
	_, _ = io.WriteString(w, `{}`)
}

func (f *fakeDynamoDB) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
}

func readEvent(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../events/" + name)
	require.NoError(tb, err)
	return b
}

// TestNew_Modes checks that each mode takes the events it names, writes to
// the target table, and rejects the other kind of event.
func TestNew_Modes(t *testing.T) {
	tests := map[string]struct {
		mode    replicator.Mode
		event   string
		wantErr string
		wantOp  string
	}{
		"apply takes a stream event":          {mode: replicator.ModeApply, event: "insert.json", wantOp: "BatchWriteItem copy"},
		"apply refuses an SQS event":          {mode: replicator.ModeApply, event: "sqs-apply.json", wantErr: "SQS event but no target table"},
		"queue takes an SQS event":            {mode: replicator.ModeQueue, event: "sqs-apply.json", wantOp: "PutItem copy"},
		"queue refuses a stream event":        {mode: replicator.ModeQueue, event: "insert.json", wantErr: "neither a target table nor a topic"},
		"apply and queue: the stream event":   {mode: replicator.ModeApply | replicator.ModeQueue, event: "insert.json", wantOp: "BatchWriteItem copy"},
		"apply and queue: the SQS event":      {mode: replicator.ModeApply | replicator.ModeQueue, event: "sqs-apply.json", wantOp: "PutItem copy"},
		"apply with a bigger pool and region": {mode: replicator.ModeApply, event: "modify.json", wantOp: "BatchWriteItem copy"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db := &fakeDynamoDB{}
			srv := httptest.NewServer(db)
			t.Cleanup(srv.Close)
			cfg := replicator.Config{Mode: tt.mode, TargetTable: "copy", Endpoint: srv.URL, SourceTable: "orders"}
			if strings.Contains(name, "bigger pool") {
				cfg.Concurrency, cfg.TargetRegion = 4, "eu-west-1"
			}
			h, err := replicator.New(awsConfig(), cfg)
			require.NoError(t, err)
			out, err := h.Invoke(t.Context(), readEvent(t, tt.event))
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				assert.Empty(t, db.ops(), "nothing is written")
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))
			assert.Contains(t, db.ops(), tt.wantOp)
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := map[string]struct {
		cfg     replicator.Config
		wantErr string
	}{
		"apply":                 {cfg: replicator.Config{Mode: replicator.ModeApply, TargetTable: "copy"}},
		"publish only":          {cfg: replicator.Config{Mode: replicator.ModePublish, TopicARN: "arn:aws:sns:us-east-1:1:t.fifo"}},
		"no mode":               {cfg: replicator.Config{TargetTable: "copy"}, wantErr: "replicator config: mode 0: want apply, publish or queue"},
		"unknown mode":          {cfg: replicator.Config{Mode: 1 << 6, TargetTable: "copy"}, wantErr: "replicator config: mode 64"},
		"apply without a table": {cfg: replicator.Config{Mode: replicator.ModeApply}, wantErr: "mode apply needs a target table"},
		"queue without a table": {cfg: replicator.Config{Mode: replicator.ModeQueue}, wantErr: "mode queue needs a target table"},
		"publish without topic": {cfg: replicator.Config{Mode: replicator.ModePublish | replicator.ModeApply, TargetTable: "copy"}, wantErr: "mode apply|publish needs a topic ARN"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, replicator.ErrConfig)
			assert.ErrorContains(t, err, tt.wantErr)
			_, err = replicator.New(awsConfig(), tt.cfg)
			assert.ErrorContains(t, err, tt.wantErr, "New refuses what Validate refuses")
		})
	}
}

func TestMode_String(t *testing.T) {
	assert.Equal(t, "none", replicator.Mode(0).String())
	assert.Equal(t, "apply", replicator.ModeApply.String())
	assert.Equal(t, "apply|publish|queue", (replicator.ModeApply | replicator.ModePublish | replicator.ModeQueue).String())
}
