package tablesync

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// failedSeq reads a function's events.DynamoDBEventResponse and returns
// the lowest sequence number it reports as failed, or "" when every record
// was applied.
func failedSeq(resp []byte) (string, error) {
	resp = bytes.TrimSpace(resp)
	if len(resp) == 0 || string(resp) == "null" {
		return "", nil
	}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return "", fmt.Errorf("read function response: %w", err)
	}
	lowest := ""
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == "" {
			return "", fmt.Errorf("read function response: a failure without itemIdentifier")
		}
		if lowest == "" || replicate.CompareSeq(f.ItemIdentifier, lowest) < 0 {
			lowest = f.ItemIdentifier
		}
	}
	return lowest, nil
}
