package lambdahandler

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// invoke runs payload through a handler over a fresh in-memory table and
// returns the raw response, the table, the log and the metrics written.
func invoke(tb testing.TB, payload []byte) (resp []byte, err error, table *replicatetest.MemWriter, logs, metrics string) {
	tb.Helper()
	table = replicatetest.NewMemWriter()
	var logBuf, metricBuf bytes.Buffer
	h := New(replicate.New(table, replicate.Options{}), Options{
		TargetTable: "target",
		Logger:      slog.New(slog.NewJSONHandler(&logBuf, nil)),
		Metrics:     &metricBuf,
		Now:         func() time.Time { return time.Unix(1795000002, 0) },
	})
	resp, err = h.Invoke(context.Background(), payload)
	return resp, err, table, logBuf.String(), metricBuf.String()
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	return b
}

// pks lists the table's items by their string "pk" or number "Id".
func pks(table *replicatetest.MemWriter) []string {
	var out []string
	for _, item := range table.Items() {
		switch v := item["pk"].(type) {
		case *types.AttributeValueMemberS:
			out = append(out, v.Value)
		default:
			out = append(out, item["Id"].(*types.AttributeValueMemberN).Value)
		}
	}
	return out
}

func TestHandler_Golden(t *testing.T) {
	tests := map[string]struct {
		wantItems []string
	}{
		"keys-only":                    {wantItems: []string{"b"}},
		"old-image":                    {wantItems: nil},
		"unknown-event":                {wantItems: []string{"a", "c"}},
		"bad-attributes":               {wantItems: []string{"a", "c"}},
		"bad-keys":                     {wantItems: []string{"a", "c"}},
		"seq-lengths":                  {wantItems: []string{"c"}},
		"sam-cli-dynamodb-update":      {wantItems: nil},
		"aws-lambda-go-dynamodb-event": {wantItems: nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err, table, logs, _ := invoke(t, readFile(t, filepath.Join("testdata", name+".json")))
			require.NoError(t, err)
			golden := filepath.Join("testdata", name+".golden.json")
			if testkit.Updating() {
				require.NoError(t, os.WriteFile(golden, append(resp, '\n'), 0o644))
			}
			assert.JSONEq(t, string(readFile(t, golden)), string(resp))
			assert.ElementsMatch(t, tt.wantItems, pks(table))
			assert.Contains(t, logs, `"msg":"batch applied"`)
		})
	}
}

func TestHandler_ErrorMessages(t *testing.T) {
	tests := map[string]string{
		"keys-only":      "record 100: record has no NewImage: INSERT needs the new image but the stream's view type is KEYS_ONLY; set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)",
		"old-image":      "view type is OLD_IMAGE",
		"unknown-event":  `record 301: unknown eventName "UPSERT" (want INSERT, MODIFY or REMOVE)`,
		"bad-attributes": `decode NewImage of record 401: malformed attribute value: attribute "n": number is not a decimal number`,
		"bad-keys":       "record 501: record has no usable Keys: key attributes must be S, N or B",
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			_, err, _, logs, _ := invoke(t, readFile(t, filepath.Join("testdata", name+".json")))
			require.NoError(t, err)
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(logs)), &line))
			assert.Contains(t, line["error"], want)
			assert.Equal(t, "WARN", line["level"])
		})
	}
}

func TestHandler_WholeBatchErrors(t *testing.T) {
	tests := map[string]string{
		"malformed":   "malformed stream event: unexpected end of JSON input",
		"no-dynamodb": `malformed stream event: record 0 (eventID "x") has no dynamodb section`,
		"bad-seq":     `malformed stream event: record 0 (eventID "e12ab"): invalid sequence number: "12ab" is not a decimal integer`,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err, table, _, _ := invoke(t, readFile(t, filepath.Join("testdata", name+".json")))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBadEvent)
			assert.EqualError(t, err, want)
			assert.Nil(t, resp)
			assert.Empty(t, table.Items(), "nothing may be written from an unreadable batch")
		})
	}
}

func TestHandler_SampleEvents(t *testing.T) {
	tests := map[string]struct {
		wantItems []string
		check     func(t *testing.T, items map[string]map[string]types.AttributeValue)
	}{
		"insert": {wantItems: []string{"order#1001"}, check: func(t *testing.T, items map[string]map[string]types.AttributeValue) {
			for _, item := range items {
				assert.Len(t, item, 13, "every attribute of the image is written")
				assert.Equal(t, &types.AttributeValueMemberN{Value: "-12345678901234567890.123456789E+10"}, item["total"])
				assert.Equal(t, &types.AttributeValueMemberBS{Value: [][]byte{{0, 1, 2}, {255}}}, item["checksums"])
			}
		}},
		"modify":     {wantItems: []string{"order#1001"}},
		"remove":     {wantItems: nil},
		"ttl-remove": {wantItems: nil},
		"mixed-batch": {wantItems: []string{"order#2001", "order#2003", "cart#9"}, check: func(t *testing.T, items map[string]map[string]types.AttributeValue) {
			for _, item := range items {
				if item["pk"].(*types.AttributeValueMemberS).Value == "order#2001" {
					assert.Equal(t, &types.AttributeValueMemberS{Value: "SHIPPED"}, item["status"], "the last change wins")
				}
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err, table, logs, metrics := invoke(t, readFile(t, filepath.Join("..", "..", "events", name+".json")))
			require.NoError(t, err)
			assert.JSONEq(t, `{"batchItemFailures":[]}`, string(resp))
			assert.ElementsMatch(t, tt.wantItems, pks(table))
			if tt.check != nil {
				tt.check(t, table.Items())
			}
			assert.NotContains(t, logs, "order#", "logs never carry item values")
			assert.NotContains(t, logs, "Lisbon", "logs never carry item values")
			assert.Contains(t, metrics, `"Namespace":"ddbsync"`)
		})
	}
}

func TestHandler_SummaryLine(t *testing.T) {
	_, err, _, logs, metrics := invoke(t, readFile(t, filepath.Join("..", "..", "events", "mixed-batch.json")))
	require.NoError(t, err)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(logs)), &line))
	assert.Equal(t, "batch applied", line["msg"])
	assert.Equal(t, "target", line["table"])
	assert.EqualValues(t, 7, line["records"])
	assert.EqualValues(t, 3, line["puts"])
	assert.EqualValues(t, 1, line["deletes"])
	assert.EqualValues(t, 3, line["collapsed"])
	assert.EqualValues(t, 0, line["failedRecords"])
	assert.EqualValues(t, 2000, line["lagMs"], "now minus the newest ApproximateCreationDateTime")
	assert.Contains(t, line, "durationMs")
	assert.Contains(t, line, "retries")

	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(metrics), &m))
	assert.EqualValues(t, 7, m["RecordsReceived"])
	assert.EqualValues(t, 3, m["ItemsPut"])
	assert.EqualValues(t, 1, m["ItemsDeleted"])
	assert.EqualValues(t, 0, m["RecordsFailed"])
	assert.EqualValues(t, 2000, m["ReplicationLagMs"])
}

func TestHandler_TTLCounted(t *testing.T) {
	_, err, _, logs, _ := invoke(t, readFile(t, filepath.Join("..", "..", "events", "ttl-remove.json")))
	require.NoError(t, err)
	assert.Contains(t, logs, `"ttlDeletes":1`)
}
