package streampoll

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/retry"
)

func TestNew_RetryPolicy(t *testing.T) {
	// MaxRetries counts retries, as Lambda's MaximumRetryAttempts does; the
	// policy counts invocations.
	tests := map[string]struct {
		maxRetries   int
		wantAttempts int
	}{
		"once":          {maxRetries: 0, wantAttempts: 1},
		"default":       {maxRetries: DefaultMaxRetries, wantAttempts: DefaultMaxRetries + 1},
		"forever":       {maxRetries: RetryForever, wantAttempts: retry.Forever},
		"below -1":      {maxRetries: -5, wantAttempts: retry.Forever},
		"no overflow":   {maxRetries: math.MaxInt, wantAttempts: retry.Forever},
		"largest bound": {maxRetries: math.MaxInt - 2, wantAttempts: math.MaxInt - 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := New(nil, nil, Options{MaxRetries: tt.maxRetries})
			assert.Equal(t, retry.Policy{MaxAttempts: tt.wantAttempts, BaseDelay: DefaultRetryBaseDelay, MaxDelay: DefaultRetryMaxDelay, Jitter: retry.HalfJitter}, p.retry)
			assert.Equal(t, retry.Policy{BaseDelay: DefaultRetryBaseDelay, MaxDelay: DefaultRetryMaxDelay, Jitter: retry.NoJitter}, p.readRetry)
		})
	}
}
