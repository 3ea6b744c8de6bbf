package tablesync

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFailedSeq(t *testing.T) {
	tests := map[string]struct {
		resp    string
		want    string
		wantErr bool
	}{
		"empty":          {resp: ``},
		"null":           {resp: `null`},
		"no failures":    {resp: `{"batchItemFailures":[]}`},
		"lowest wins":    {resp: `{"batchItemFailures":[{"itemIdentifier":"200"},{"itemIdentifier":"99"}]}`, want: "99"},
		"no identifier":  {resp: `{"batchItemFailures":[{}]}`, wantErr: true},
		"not a response": {resp: `[`, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := failedSeq([]byte(tt.resp))
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
