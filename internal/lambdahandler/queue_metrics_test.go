package lambdahandler

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// emfLines parses the EMF lines written, one JSON object each.
func emfLines(tb testing.TB, out string) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal([]byte(l), &m), l)
		lines = append(lines, m)
	}
	return lines
}

// dimensions returns an EMF line's one dimension set.
func dimensions(tb testing.TB, line map[string]any) []any {
	tb.Helper()
	aws := line["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(tb, "ddbsync", cw["Namespace"])
	return cw["Dimensions"].([]any)[0].([]any)
}

// TestHandler_Invoke_PublishMetrics: publish mode writes one EMF line per
// stream batch, per topic, as the direct path does per target table.
func TestHandler_Invoke_PublishMetrics(t *testing.T) {
	// sam-cli-dynamodb-update.json's records were created at 1428537600 s.
	now := time.Unix(1428537600, 0).Add(3 * time.Second)
	tests := map[string]struct {
		reject bool
		want   map[string]float64
	}{
		"published": {want: map[string]float64{"RecordsReceived": 3, "MessagesPublished": 3, "RecordsFailed": 0, "ReplicationLagMs": 3000}},
		"rejected":  {reject: true, want: map[string]float64{"RecordsReceived": 3, "MessagesPublished": 0, "RecordsFailed": 3, "ReplicationLagMs": 3000}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var metrics bytes.Buffer
			opts := Options{Metrics: &metrics, Now: func() time.Time { return now }}
			h := NewHandler(NewPublishHandler(queue.NewPublisher(fakeSNS(tt.reject), "arn:aws:sns:us-east-1:1:changes.fifo", queue.PublisherOptions{}), nil, opts), nil, opts)
			_, err := h.Invoke(t.Context(), readFile(t, "testdata/sam-cli-dynamodb-update.json"))
			require.NoError(t, err)
			lines := emfLines(t, metrics.String())
			require.Len(t, lines, 1, "one line per batch")
			assert.Equal(t, []any{queue.DimensionTopic}, dimensions(t, lines[0]))
			assert.Equal(t, "changes.fifo", lines[0][queue.DimensionTopic], "the topic's name")
			for m, v := range tt.want {
				assert.EqualValues(t, v, lines[0][m], m)
			}
		})
	}
}

// TestHandler_Invoke_ApplyMetrics: apply mode writes one EMF line per SQS
// batch, per target table.
func TestHandler_Invoke_ApplyMetrics(t *testing.T) {
	// sqs-envelopes.json's first envelope was created at 1795000000000 ms.
	now := time.UnixMilli(1795000000000).Add(1500 * time.Millisecond)
	var metrics bytes.Buffer
	opts := Options{TargetTable: "target", Metrics: &metrics, Now: func() time.Time { return now }}
	h := NewHandler(nil, NewQueueHandler(queue.NewApplier(replicate.New(replicatetest.NewMemWriter(), replicate.Options{}), nil, ""), opts), opts)
	_, err := h.Invoke(t.Context(), readFile(t, "testdata/sqs-envelopes.json"))
	require.NoError(t, err)
	lines := emfLines(t, metrics.String())
	require.Len(t, lines, 1, "one line per batch")
	assert.Equal(t, []any{queue.DimensionTargetTable}, dimensions(t, lines[0]))
	assert.Equal(t, "target", lines[0][queue.DimensionTargetTable])
	// m3 (group gb) is written, then reported failed behind the undecodable m2.
	for m, v := range map[string]float64{"MessagesReceived": 4, "ChangesApplied": 3, "StaleSkipped": 0, "MessagesFailed": 2, "ReplicationLagMs": 1500} {
		assert.EqualValues(t, v, lines[0][m], m)
	}
}

// TestHandler_Invoke_SampleSQSEvent applies events/sqs-apply.json, the
// event `sam local invoke ApplyFunction -e` sends: every message applies.
func TestHandler_Invoke_SampleSQSEvent(t *testing.T) {
	table := replicatetest.NewMemWriter()
	h := NewHandler(nil, NewQueueHandler(queue.NewApplier(replicate.New(table, replicate.Options{}), nil, ""), Options{}), Options{})
	out, err := h.Invoke(t.Context(), readFile(t, "../../events/sqs-apply.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))
	assert.ElementsMatch(t, []string{"customer#1", "customer#2"}, pks(table), "two puts; the remove's item never existed")
}

// fakeSNS returns an SNS fake that accepts every entry, or rejects every
// one with AuthorizationError.
func fakeSNS(reject bool) *queuetest.FakeSNS {
	if reject {
		return &queuetest.FakeSNS{Answer: queuetest.RejectAll("AuthorizationError")}
	}
	return &queuetest.FakeSNS{}
}
