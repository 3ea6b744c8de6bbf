package lambdahandler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeEvent_SameAsEncodingJSON checks that the fast envelope decoder
// reads every fixture exactly as encoding/json does.
func TestDecodeEvent_SameAsEncodingJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	events, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	require.NoError(t, err)
	for _, name := range append(files, events...) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			payload, err := os.ReadFile(name)
			require.NoError(t, err)
			var std, fast streamEvent
			stdErr := json.Unmarshal(payload, &std)
			fastErr := gojson.Unmarshal(payload, &fast)
			require.Equal(t, stdErr == nil, fastErr == nil, "std: %v, fast: %v", stdErr, fastErr)
			if stdErr == nil {
				assert.Equal(t, std, fast)
			}
		})
	}
}
