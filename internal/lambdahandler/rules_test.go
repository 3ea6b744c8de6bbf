package lambdahandler

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// ordersExample is the example rule set and event of `ddbsync rules apply`
// (examples/rules): an insert, a MODIFY leaving the filter, a TTL REMOVE
// (skipped) and a collision.
var ordersExample = struct{ rules, event string }{
	filepath.Join("..", "..", "examples", "rules", "orders.yaml"),
	filepath.Join("..", "..", "examples", "rules", "orders-event.json"),
}

func ordersRuleSet(tb testing.TB) *rules.RuleSet {
	tb.Helper()
	rs, err := rules.Parse(ordersExample.rules, readFile(tb, ordersExample.rules))
	require.NoError(tb, err)
	return rs
}

// TestDecodeRecords_OldImages checks that the changes keep the old images
// only when asked (a rule set reads them), and always the TTL flag.
func TestDecodeRecords_OldImages(t *testing.T) {
	for _, keep := range []bool{false, true} {
		var ev streamEvent
		require.NoError(t, parseEvent(readFile(t, ordersExample.event), &ev))
		changes, ttl, err := decodeRecords(&ev, keep)
		require.NoError(t, err)
		assert.Equal(t, 1, ttl)
		require.Len(t, changes, 4)
		assert.Equal(t, []bool{false, false, true, false}, []bool{changes[0].TTL, changes[1].TTL, changes[2].TTL, changes[3].TTL})
		assert.Equal(t, "MODIFY", changes[1].Event)
		if keep {
			assert.JSONEq(t, string(ev.Records[1].Change.OldImage), string(changes[1].OldImage))
		} else {
			assert.Nil(t, changes[1].OldImage, "no old image kept without rules")
		}
	}
}

// TestHandler_Invoke_Rules applies the example event with the example rule
// set: the collision is reported by its sequence number, the TTL remove
// skipped, and the summary line counts both.
func TestHandler_Invoke_Rules(t *testing.T) {
	table := replicatetest.NewMemWriter()
	acme1002 := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "acme#1002"}}
	id, _ := replicate.KeyID(acme1002)
	errs, _ := table.WriteBatch(t.Context(), []replicate.Write{{Op: replicate.OpPut, Key: acme1002, KeyID: id, Item: acme1002}})
	require.Nil(t, errs)
	var logs bytes.Buffer
	opts := Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := New(replicate.New(table, replicate.Options{Rules: ordersRuleSet(t)}), opts)
	out, err := h.Invoke(t.Context(), readFile(t, ordersExample.event))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[{"itemIdentifier":"400"}]}`, string(out))
	pks := []string{}
	for _, item := range table.Items() {
		pks = append(pks, item["pk"].(*types.AttributeValueMemberS).Value)
	}
	assert.Equal(t, []string{"acme#1001"}, pks, "the insert applied, acme#1002 deleted as it left the filter")
	assert.Contains(t, logs.String(), `"ttlSkipped":1`)
	assert.Contains(t, logs.String(), `"filtered":0`)
	assert.Contains(t, logs.String(), `"failedSeq":"400"`)
}

// TestHandler_Invoke_PublishOldImage: the publisher forwards the old image
// and the TTL flag raw, for the apply end's rule set.
func TestHandler_Invoke_PublishOldImage(t *testing.T) {
	api := &queuetest.FakeSNS{}
	h := NewHandler(NewPublishHandler(queue.NewPublisher(api, "arn:aws:sns:us-east-1:1:t.fifo", queue.PublisherOptions{}), nil, Options{}), nil, Options{})
	out, err := h.Invoke(t.Context(), readFile(t, ordersExample.event))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))
	bySeq := map[string]queue.Envelope{}
	for _, b := range api.Accepted() {
		env, err := queue.DecodeEnvelope([]byte(b))
		require.NoError(t, err)
		bySeq[env.Seq] = env
	}
	require.Len(t, bySeq, 4)
	assert.JSONEq(t, `{"pk":{"S":"order#1002"},"sk":{"S":"2026-11-27"},"tenant":{"S":"acme"},"id":{"S":"1002"}}`, string(bySeq["200"].OldImage))
	assert.True(t, bySeq["300"].TTL)
	assert.NotEmpty(t, bySeq["300"].OldImage)
	assert.False(t, bySeq["100"].TTL)
	assert.Empty(t, bySeq["100"].OldImage)
}
