package dynamo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/retry"
)

func TestNewTable_RetryPolicy(t *testing.T) {
	// Zero fields of Options.Retry take DefaultRetry's: today's defaults.
	tests := map[string]struct {
		in, want retry.Policy
	}{
		"defaults": {in: retry.Policy{}, want: retry.Policy{MaxAttempts: 10, BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second, Jitter: retry.FullJitter}},
		"attempts only (ddbsync --write-attempts)": {
			in:   retry.Policy{MaxAttempts: 3},
			want: retry.Policy{MaxAttempts: 3, BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second},
		},
		"all set": {
			in:   retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Second},
			want: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Second},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, NewTable(&fakeAPI{}, "t", Options{Retry: tt.in}).retry)
		})
	}
}
