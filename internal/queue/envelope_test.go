package queue_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
)

func TestEnvelope_RoundTrip(t *testing.T) {
	tests := map[string]struct {
		env      queue.Envelope
		wantJSON string
	}{
		"insert": {
			env: queue.Envelope{Event: "INSERT", Keys: json.RawMessage(`{"pk":{"S":"a"}}`),
				NewImage: json.RawMessage(`{"pk":{"S":"a"},"n":{"N":"1"}}`), Seq: "1234567890123456789012345678901234567890",
				EventID: "e1", StreamARN: "arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026", TableARN: "arn:aws:dynamodb:eu-west-1:1:table/T", Created: 1700000000000},
			wantJSON: `{"v":1,"event":"INSERT","keys":{"pk":{"S":"a"}},"newImage":{"pk":{"S":"a"},"n":{"N":"1"}},
				"seq":"1234567890123456789012345678901234567890","eventId":"e1","streamArn":"arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026",
				"tableArn":"arn:aws:dynamodb:eu-west-1:1:table/T","created":1700000000000}`,
		},
		"remove": {
			env:      queue.Envelope{Event: "REMOVE", Keys: json.RawMessage(`{"pk":{"N":"7"}}`), Seq: "5"},
			wantJSON: `{"v":1,"event":"REMOVE","keys":{"pk":{"N":"7"}},"seq":"5"}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := tt.env
			body, err := env.Encode()
			require.NoError(t, err)
			assert.JSONEq(t, tt.wantJSON, string(body))
			got, err := queue.DecodeEnvelope(body)
			require.NoError(t, err)
			assert.Equal(t, env, got)
		})
	}
}

// TestEnvelope_KeysOnly checks that an item too big for one SNS message is
// sent without its image, flagged for a consistent re-read.
func TestEnvelope_KeysOnly(t *testing.T) {
	big := `{"pk":{"S":"a"},"blob":{"S":"` + strings.Repeat("x", queue.MaxMessageBytes) + `"}}`
	env := queue.Envelope{Event: "MODIFY", Keys: json.RawMessage(`{"pk":{"S":"a"}}`), NewImage: json.RawMessage(big), Seq: "9"}
	body, err := env.Encode()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(body), queue.MaxMessageBytes)
	assert.JSONEq(t, `{"v":1,"event":"MODIFY","keys":{"pk":{"S":"a"}},"keysOnly":true,"seq":"9"}`, string(body))
	got, err := queue.DecodeEnvelope(body)
	require.NoError(t, err)
	assert.True(t, got.KeysOnly)
	assert.Empty(t, got.NewImage)
}

func TestDecodeEnvelope_Malformed(t *testing.T) {
	tests := map[string]struct {
		body    string
		wantErr string
	}{
		"not json":      {`{"v":1,`, "malformed envelope"},
		"version":       {`{"v":2,"event":"REMOVE","keys":{"pk":{"S":"a"}},"seq":"1"}`, "unsupported envelope version 2"},
		"bad seq":       {`{"v":1,"event":"REMOVE","keys":{"pk":{"S":"a"}},"seq":"1e5"}`, "invalid sequence number"},
		"no image":      {`{"v":1,"event":"INSERT","keys":{"pk":{"S":"a"}},"seq":"1"}`, "INSERT without newImage"},
		"unknown event": {`{"v":1,"event":"TRUNCATE","keys":{"pk":{"S":"a"}},"seq":"1"}`, `event "TRUNCATE"`},
		"no keys":       {`{"v":1,"event":"REMOVE","seq":"1"}`, "no keys"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := queue.DecodeEnvelope([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestGroupID(t *testing.T) {
	a, b := queue.GroupID("pk\x00S\x00a\x00"), queue.GroupID("pk\x00S\x00b\x00")
	assert.Len(t, a, 64)
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, queue.GroupID("pk\x00S\x00a\x00"))
	assert.Regexp(t, `^[0-9a-f]{64}$`, a)
}

func TestDedupID(t *testing.T) {
	assert.Equal(t, "c4ca4238a0b923820dcc509a6f75849b", queue.DedupID("c4ca4238a0b923820dcc509a6f75849b", "s", "1"))
	fallback := queue.DedupID("", "arn:s", "12")
	assert.Len(t, fallback, 64)
	assert.Equal(t, fallback, queue.DedupID("has space", "arn:s", "12"))
	assert.NotEqual(t, fallback, queue.DedupID("", "arn:s", "13"))
}

func TestTableARN(t *testing.T) {
	assert.Equal(t, "arn:aws:dynamodb:ddblocal:000000000000:table/src",
		queue.TableARN("arn:aws:dynamodb:ddblocal:000000000000:table/src/stream/2026-11-27T00:00:00.000"))
	assert.Empty(t, queue.TableARN("nope"))
}
