package chaos

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/faultproxy"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Settings of the deadline property.
const (
	deadlineRecords     = 3000
	deadlineTimeout     = 3 * time.Second
	deadlineLatency     = 200 * time.Millisecond
	deadlineConcurrency = 2 // 2 writes of 25 items per 200 ms: about 12 s for the batch
	maxInvocations      = 20
)

// eventRecord is one record of the Lambda event, as Lambda sends it.
type eventRecord struct {
	EventID        string      `json:"eventID"`
	EventName      string      `json:"eventName"`
	EventVersion   string      `json:"eventVersion"`
	EventSource    string      `json:"eventSource"`
	AWSRegion      string      `json:"awsRegion"`
	Change         eventChange `json:"dynamodb"`
	EventSourceARN string      `json:"eventSourceARN"`
}

type eventChange struct {
	ApproximateCreationDateTime int64           `json:"ApproximateCreationDateTime"`
	Keys                        json.RawMessage `json:"Keys"`
	NewImage                    json.RawMessage `json:"NewImage"`
	SequenceNumber              string          `json:"SequenceNumber"`
	SizeBytes                   int             `json:"SizeBytes"`
	StreamViewType              string          `json:"StreamViewType"`
}

// TestBootstrap_ShortDeadline runs the built bootstrap under the Lambda
// Runtime Interface Emulator with a 3 s timeout, writing through the proxy
// with 200 ms added to every write, and sends a batch it cannot finish in
// time. The function must answer before the deadline with the first record
// it did not apply as a batch item failure, and re-invocations from that
// record (what Lambda does) must finish the job.
func TestBootstrap_ShortDeadline(t *testing.T) {
	t.Parallel() // mostly waits on the proxy's latency: overlap it with TestReplicate_UnderFaults
	ctx := t.Context()
	e := newEnv(t, ddblocal.TableSpec{HashKey: "pk"}, ddblocal.TableSpec{HashKey: "pk"},
		faultproxy.Options{Seed: 3, Latency: deadlineLatency})

	// The source holds the items; the event carries the same images.
	var reqs []types.WriteRequest
	var records []eventRecord
	for i := range deadlineRecords {
		item := map[string]types.AttributeValue{
			"pk":  &types.AttributeValueMemberS{Value: fmt.Sprintf("key#%05d", i)},
			"n":   &types.AttributeValueMemberN{Value: fmt.Sprint(i)},
			"pad": &types.AttributeValueMemberS{Value: strings.Repeat("x", 100)},
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		image, err := attributevalue.MarshalMapJSON(item)
		require.NoError(t, err)
		keys, err := attributevalue.MarshalMapJSON(map[string]types.AttributeValue{"pk": item["pk"]})
		require.NoError(t, err)
		records = append(records, eventRecord{
			EventID: fmt.Sprint("e", i), EventName: "INSERT", EventVersion: "1.1", EventSource: "aws:dynamodb",
			AWSRegion: ddblocal.Region, EventSourceARN: e.streamARN,
			Change: eventChange{
				ApproximateCreationDateTime: time.Now().Unix(), Keys: keys, NewImage: image,
				SequenceNumber: fmt.Sprintf("4%020d", i+1), // 21 digits, like DynamoDB Local's
				SizeBytes:      len(image), StreamViewType: "NEW_AND_OLD_IMAGES",
			},
		})
	}
	putAll(t, e.db, reqs)

	bootstrap := testkit.Bootstrap(t, "./cmd/replicator")
	env := append(e.srv.Env(e.keyID),
		"AWS_ENDPOINT_URL_DYNAMODB="+e.proxy.URL(), // the target's writes go through the proxy
		"TARGET_TABLE_NAME="+targetTable,
		fmt.Sprint("WRITE_CONCURRENCY=", deadlineConcurrency),
	)
	fn := testkit.StartRIE(t, rie.Options{Bootstrap: bootstrap, Env: env, Timeout: deadlineTimeout})

	pending := records
	for invocation := 1; ; invocation++ {
		require.LessOrEqual(t, invocation, maxInvocations, "the job must finish")
		payload, err := json.Marshal(map[string]any{"Records": pending})
		require.NoError(t, err)
		start := time.Now()
		body, err := fn.Invoke(ctx, payload)
		took := time.Since(start)
		require.NoError(t, err, "invocation %d must answer, not time out (after %v): %s", invocation, took, body)
		assert.Less(t, took, deadlineTimeout, "invocation %d answered before the deadline", invocation)

		var resp struct {
			BatchItemFailures []struct {
				ItemIdentifier string `json:"itemIdentifier"`
			} `json:"batchItemFailures"`
		}
		require.NoError(t, json.Unmarshal(body, &resp), "response %s", body)
		t.Logf("invocation %d: %d records in %v, answer %s", invocation, len(pending), took.Round(time.Millisecond), body)
		if invocation == 1 {
			require.Len(t, resp.BatchItemFailures, 1, "the first batch cannot be finished in %v", deadlineTimeout)
		}
		if len(resp.BatchItemFailures) == 0 {
			break
		}
		require.Len(t, resp.BatchItemFailures, 1)
		from := resp.BatchItemFailures[0].ItemIdentifier
		next := -1
		for i, r := range pending {
			if replicate.CompareSeq(r.Change.SequenceNumber, from) == 0 {
				next = i
				break
			}
		}
		require.Positive(t, next, "the failure names a record of the batch after its first: progress was made")
		pending = pending[next:]
	}

	res := e.compare(t)
	assert.True(t, res.Identical(), "target differs from source: %s", describe(res))
	assert.EqualValues(t, deadlineRecords, res.SourceItems)
	assert.NotContains(t, fn.Logs(), "Task timed out")
}
