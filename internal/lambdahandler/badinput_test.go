package lambdahandler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// Sizes of the maximum-size batch case.
const (
	// maxItemBytes is DynamoDB's item size limit (names and values).
	maxItemBytes = 400 << 10
	// maxPayloadBytes is Lambda's synchronous invocation payload limit.
	maxPayloadBytes = 6 << 20
)

const otherStreamARN = "arn:aws:dynamodb:eu-west-1:999999999999:table/other/stream/2026-01-01T00:00:00.000"

// rec returns one stream record as Lambda delivers it. keys and image are
// DynamoDB JSON ("" leaves the field out); view is the StreamViewType.
func rec(seq, name, keys, image, view string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"eventID":"e%s","eventName":%q,"eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",`, seq, name)
	b.WriteString(`"dynamodb":{"ApproximateCreationDateTime":1795000000`)
	if keys != "" {
		fmt.Fprintf(&b, `,"Keys":%s`, keys)
	}
	if image != "" {
		fmt.Fprintf(&b, `,"NewImage":%s`, image)
	}
	fmt.Fprintf(&b, `,"SequenceNumber":%q,"SizeBytes":100,"StreamViewType":%q},`, seq, view)
	b.WriteString(`"eventSourceARN":"arn:aws:dynamodb:us-east-1:123456789012:table/src/stream/2026-11-27T00:00:00.000"}`)
	return b.String()
}

// ins is an INSERT of pk=k with the attribute attr (DynamoDB JSON of one
// attribute, "" for none), in a NEW_AND_OLD_IMAGES stream.
func ins(seq, k, attr string) string {
	image := fmt.Sprintf(`{"pk":{"S":%q}`, k)
	if attr != "" {
		image += "," + attr
	}
	return rec(seq, "INSERT", fmt.Sprintf(`{"pk":{"S":%q}}`, k), image+"}", "NEW_AND_OLD_IMAGES")
}

// event wraps records in the event envelope.
func event(records ...string) []byte {
	return []byte(`{"Records":[` + strings.Join(records, ",") + `]}`)
}

// maxSizeBatch is an event of the largest items DynamoDB stores, as many as
// fit in Lambda's 6 MB payload, and the items' pk values.
func maxSizeBatch() (payload []byte, pks []string) {
	pad := strings.Repeat("x", maxItemBytes-64)
	var records []string
	for i := 0; ; i++ {
		pk := fmt.Sprint("big", i)
		r := ins(fmt.Sprint(1000+i), pk, fmt.Sprintf(`"pad":{"S":%q}`, pad))
		if len(event(append(records, r)...)) > maxPayloadBytes {
			return event(records...), pks
		}
		records, pks = append(records, r), append(pks, pk)
	}
}

// sizingWriter is a MemWriter that records the JSON size of each call.
type sizingWriter struct {
	*replicatetest.MemWriter
	mu    sync.Mutex
	sizes []int
}

func (w *sizingWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	size := 0
	for _, wr := range writes {
		item := wr.Item
		if item == nil {
			item = wr.Key
		}
		b, _ := attributevalue.MarshalMapJSON(item)
		size += len(b)
	}
	w.mu.Lock()
	w.sizes = append(w.sizes, size)
	w.mu.Unlock()
	return w.MemWriter.WriteBatch(ctx, writes)
}

// TestHandler_BadInput lists every kind of bad input with the exact error
// it must produce. A whole-batch error (wantBatchErr) is returned by
// Invoke, so Lambda retries the batch and nothing is written; a record
// error is reported as a batch item failure at wantFailed, with wantErr as
// the first error in the summary line, while the other records are
// applied (wantItems).
//
// No guard on eventSourceARN: one function serves one event source mapping,
// and the target table is the function's configuration, so a record of
// another stream is applied like any other ("other stream ARN" below). A
// guard would need the expected ARN in the configuration; it is not worth
// a setting that deployments would have to keep in step with the template.
func TestHandler_BadInput(t *testing.T) {
	okA, okC := ins("1", "a", ""), ins("3", "c", "")
	big, bigPKs := maxSizeBatch()
	tests := []struct {
		name         string
		payload      []byte
		wantBatchErr string
		wantFailed   string
		wantErr      string
		wantItems    []string
	}{
		{
			name:         "malformed JSON",
			payload:      []byte(`{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"a"}}`),
			wantBatchErr: "malformed stream event: unexpected end of JSON input",
		},
		{
			name:         "not an event",
			payload:      []byte(`[1,2,3]`),
			wantBatchErr: "malformed stream event: json: cannot unmarshal array into Go value of type lambdahandler.streamEvent",
		},
		{
			name:         "missing dynamodb section",
			payload:      event(okA, `{"eventID":"x","eventName":"INSERT"}`),
			wantBatchErr: `malformed stream event: record 1 (eventID "x") has no dynamodb section`,
		},
		{
			name:         "missing sequence number",
			payload:      event(okA, strings.Replace(ins("2", "b", ""), `"SequenceNumber":"2",`, "", 1)),
			wantBatchErr: `malformed stream event: record 1 (eventID "e2"): invalid sequence number: empty`,
		},
		{
			name:         "sequence number not a number",
			payload:      event(okA, ins("12ab", "b", "")),
			wantBatchErr: `malformed stream event: record 1 (eventID "e12ab"): invalid sequence number: "12ab" is not a decimal integer`,
		},
		{
			name:       "unknown eventName",
			payload:    event(okA, rec("2", "UPSERT", `{"pk":{"S":"b"}}`, `{"pk":{"S":"b"}}`, "NEW_IMAGE"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `record 2: unknown eventName "UPSERT" (want INSERT, MODIFY or REMOVE)`,
		},
		{
			name:       "missing Keys",
			payload:    event(okA, rec("2", "REMOVE", "", "", "NEW_IMAGE"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "record 2: record has no usable Keys: malformed attribute value: image is missing",
		},
		{
			name:       "Keys of a non-key type",
			payload:    event(okA, rec("2", "REMOVE", `{"pk":{"BOOL":true}}`, "", "NEW_IMAGE"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "record 2: record has no usable Keys: key attributes must be S, N or B",
		},
		{
			name:       "INSERT without NewImage, KEYS_ONLY stream",
			payload:    event(okA, rec("2", "INSERT", `{"pk":{"S":"b"}}`, "", "KEYS_ONLY"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "record 2: record has no NewImage: INSERT needs the new image but the stream's view type is KEYS_ONLY; " +
				"set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)",
		},
		{
			name:       "MODIFY without NewImage, OLD_IMAGE stream",
			payload:    event(okA, rec("2", "MODIFY", `{"pk":{"S":"b"}}`, "", "OLD_IMAGE"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "record 2: record has no NewImage: MODIFY needs the new image but the stream's view type is OLD_IMAGE; " +
				"set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)",
		},
		{
			name:       "two type fields",
			payload:    event(okA, ins("2", "b", `"v":{"S":"x","N":"1"}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": 2 type fields ("S", "N") in one value (want exactly one)`,
		},
		{
			name:       "two type fields in Keys",
			payload:    event(okA, rec("2", "REMOVE", `{"pk":{"S":"b","B":"AA=="}}`, "", "NEW_IMAGE"), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `record 2: record has no usable Keys: malformed attribute value: attribute "pk": 2 type fields ("S", "B") in one value (want exactly one)`,
		},
		{
			name:       "two type fields nested",
			payload:    event(okA, ins("2", "b", `"m":{"M":{"l":{"L":[{"NULL":true,"BOOL":true}]}}}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "m": ."l": [0]: 2 type fields ("NULL", "BOOL") in one value (want exactly one)`,
		},
		{
			name:       "no type field",
			payload:    event(okA, ins("2", "b", `"v":{}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": no type field (want one of S, N, B, BOOL, NULL, M, L, SS, NS, BS)`,
		},
		{
			name:       "null attribute value",
			payload:    event(okA, ins("2", "b", `"v":null`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": no type field (want one of S, N, B, BOOL, NULL, M, L, SS, NS, BS)`,
		},
		{
			name:       "unknown type",
			payload:    event(okA, ins("2", "b", `"v":{"X":"1"}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": unknown type "X"`,
		},
		{
			name:       "bad base64",
			payload:    event(okA, ins("2", "b", `"v":{"B":"%%%"}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "decode NewImage of record 2: malformed attribute value: failed to base64 decode BinaryAttributeValue, illegal base64 data at input byte 0",
		},
		{
			name:       "number that is not a number",
			payload:    event(okA, ins("2", "b", `"v":{"N":"12abc"}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": number is not a decimal number (value not shown)`,
		},
		{
			name:       "number as a JSON number",
			payload:    event(okA, ins("2", "b", `"v":{"N":12}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: "decode NewImage of record 2: malformed attribute value: expected NumberAttributeValue to be of type string, got float64 instead",
		},
		{
			name:       "NULL false",
			payload:    event(okA, ins("2", "b", `"v":{"NULL":false}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": NULL must be true`,
		},
		{
			name:       "empty string set",
			payload:    event(okA, ins("2", "b", `"v":{"SS":[]}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": empty set (DynamoDB sets must have at least one member)`,
		},
		{
			name:       "empty number set",
			payload:    event(okA, ins("2", "b", `"v":{"NS":[]}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": empty set (DynamoDB sets must have at least one member)`,
		},
		{
			name:       "empty binary set",
			payload:    event(okA, ins("2", "b", `"v":{"BS":[]}`), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": empty set (DynamoDB sets must have at least one member)`,
		},
		{
			name:       "bad superseded image fails its key from its first record",
			payload:    event(okA, ins("2", "b", `"v":{"SS":[]}`), ins("3", "b", ""), okC),
			wantFailed: "2", wantItems: []string{"a", "c"},
			wantErr: `decode NewImage of record 2: malformed attribute value: attribute "v": empty set (DynamoDB sets must have at least one member)`,
		},
		{
			name: "sequence numbers of different lengths",
			payload: event(ins("98", "a", ""), ins("99", "b", `"v":{"SS":[]}`), ins("100", "c", `"v":{"NS":[]}`),
				ins("1000000000000000000000000000000000000001", "d", "")),
			wantFailed: "99", wantItems: []string{"a", "d"}, // "100" < "99" as strings
			wantErr: `decode NewImage of record 99: malformed attribute value: attribute "v": empty set (DynamoDB sets must have at least one member)`,
		},
		{
			name:      "other stream ARN (no guard)",
			payload:   event(okA, strings.Replace(ins("2", "b", ""), `arn:aws:dynamodb:us-east-1:123456789012:table/src/stream/2026-11-27T00:00:00.000`, otherStreamARN, 1)),
			wantItems: []string{"a", "b"},
		},
		{
			name:      "6 MB batch of maximum-size items",
			payload:   big,
			wantItems: bigPKs,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := &sizingWriter{MemWriter: replicatetest.NewMemWriter()}
			var logs bytes.Buffer
			h := New(replicate.New(table, replicate.Options{}), Options{
				TargetTable: "target", Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			resp, err := h.Invoke(context.Background(), tt.payload)

			if tt.wantBatchErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrBadEvent)
				assert.EqualError(t, err, tt.wantBatchErr)
				assert.Empty(t, table.Items(), "nothing may be written from a batch that is retried whole")
				return
			}
			require.NoError(t, err)
			want := `{"batchItemFailures":[]}`
			if tt.wantFailed != "" {
				want = fmt.Sprintf(`{"batchItemFailures":[{"itemIdentifier":%q}]}`, tt.wantFailed)
			}
			assert.JSONEq(t, want, string(resp))
			assert.ElementsMatch(t, tt.wantItems, pks(table.MemWriter))

			var line struct {
				Msg   string `json:"msg"`
				Error string `json:"error"`
			}
			require.NoError(t, json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line))
			assert.Equal(t, "batch applied", line.Msg)
			assert.Equal(t, tt.wantErr, line.Error)

			for _, size := range table.sizes {
				assert.Less(t, size, replicate.MaxBatchBytes, "every BatchWriteItem stays under 16 MB")
			}
		})
	}
}

// TestMaxSizeBatch checks the size case itself: Lambda's 6 MB payload
// full of 400 KB items.
func TestMaxSizeBatch(t *testing.T) {
	payload, pks := maxSizeBatch()
	assert.LessOrEqual(t, len(payload), maxPayloadBytes)
	assert.Greater(t, len(payload), maxPayloadBytes-maxItemBytes, "as many items as fit")
	var ev struct {
		Records []struct {
			Change struct {
				NewImage json.RawMessage
			} `json:"dynamodb"`
		}
	}
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, len(pks), len(ev.Records))
	assert.GreaterOrEqual(t, len(pks), 14)
	for _, r := range ev.Records {
		assert.InDelta(t, maxItemBytes, len(r.Change.NewImage), 100, "image size")
	}
}
