package lambdahandler

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

func TestHandler_Invoke_Publish(t *testing.T) {
	api := &queuetest.FakeSNS{}
	h := NewHandler(NewPublishHandler(queue.NewPublisher(api, "arn:aws:sns:us-east-1:1:t.fifo", queue.PublisherOptions{}), nil, Options{}), nil, Options{})
	out, err := h.Invoke(t.Context(), readFile(t, "testdata/sam-cli-dynamodb-update.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))
	require.Len(t, api.Accepted(), 3)
	var names []string
	for _, b := range api.Accepted() {
		env, err := queue.DecodeEnvelope([]byte(b))
		require.NoError(t, err)
		names = append(names, env.Event)
		assert.Equal(t, "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream", env.TableARN)
		assert.NotEmpty(t, env.EventID)
	}
	assert.ElementsMatch(t, []string{"INSERT", "MODIFY", "REMOVE"}, names)
}

// TestHandler_Invoke_PublishBesidesTable checks that with a table and a
// topic, a failed publish is reported even though the table write worked.
func TestHandler_Invoke_PublishBesidesTable(t *testing.T) {
	table := replicatetest.NewMemWriter()
	h := NewHandler(NewPublishHandler(queue.NewPublisher(&queuetest.FakeSNS{Answer: queuetest.RejectAll("AuthorizationError")}, "arn:aws:sns:us-east-1:1:t.fifo", queue.PublisherOptions{}),
		replicate.New(table, replicate.Options{}), Options{}), nil, Options{})
	out, err := h.Invoke(t.Context(), readFile(t, "testdata/sam-cli-dynamodb-update.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[{"itemIdentifier":"4421584500000000017450439091"}]}`, string(out))
	assert.Empty(t, table.Items(), "the key was inserted, modified and removed in the table")
}

func TestHandler_Invoke_SQS(t *testing.T) {
	table := replicatetest.NewMemWriter()
	h := NewHandler(nil, NewQueueHandler(queue.NewApplier(replicate.New(table, replicate.Options{}), nil, ""), Options{}), Options{})
	out, err := h.Invoke(t.Context(), readFile(t, "testdata/sqs-envelopes.json"))
	require.NoError(t, err)
	var resp events.SQSEventResponse
	require.NoError(t, json.Unmarshal(out, &resp))
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "m2"}, {ItemIdentifier: "m3"}}, resp.BatchItemFailures,
		"the undecodable message and the later one of its group")
	assert.ElementsMatch(t, []string{"a", "c"}, pks(table))
}

func TestHandler_Invoke_NotConfigured(t *testing.T) {
	h := New(nil, Options{})
	_, err := h.Invoke(t.Context(), readFile(t, "testdata/sqs-envelopes.json"))
	assert.ErrorContains(t, err, "SQS event but no target table")
	_, err = h.Invoke(t.Context(), readFile(t, "testdata/sam-cli-dynamodb-update.json"))
	assert.ErrorContains(t, err, "neither a target table nor a topic")
}
