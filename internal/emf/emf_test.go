package emf

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, time.UnixMilli(1700000000123), map[string]string{"TargetTable": "orders"}, []Metric{
		{Name: "RecordsReceived", Unit: Count, Value: 3},
		{Name: "ReplicationLagMs", Unit: Milliseconds, Value: 1500},
	})
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"_aws": {"Timestamp": 1700000000123, "CloudWatchMetrics": [{
			"Namespace": "ddbsync",
			"Dimensions": [["TargetTable"]],
			"Metrics": [{"Name": "RecordsReceived", "Unit": "Count"}, {"Name": "ReplicationLagMs", "Unit": "Milliseconds"}]
		}]},
		"TargetTable": "orders", "RecordsReceived": 3, "ReplicationLagMs": 1500
	}`, buf.String())
	assert.Equal(t, byte('\n'), buf.Bytes()[buf.Len()-1], "one line per call")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWrite_Error(t *testing.T) {
	err := Write(failWriter{}, time.Now(), nil, []Metric{{Name: "X", Unit: Count, Value: 1}})
	require.ErrorContains(t, err, "write emf: closed")
}
