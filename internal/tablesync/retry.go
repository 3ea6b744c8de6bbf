package tablesync

import (
	"context"
	"fmt"
	"time"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// Retry defaults: the same as the replicator's writes (package dynamo).
const (
	// DefaultMaxAttempts is how many times a read or repair write is tried.
	DefaultMaxAttempts = dynamo.DefaultMaxAttempts
	// DefaultBaseDelay is the first backoff delay before jitter.
	DefaultBaseDelay = dynamo.DefaultBaseDelay
	// DefaultMaxDelay caps the backoff delay.
	DefaultMaxDelay = dynamo.DefaultMaxDelay
)

// RetryOptions shapes the retries of reads and repair writes; zero fields
// take the defaults. Throttling, 5xx and connection errors are retried
// ([dynamo.Retryable]), and so are BatchGetItem's UnprocessedKeys.
type RetryOptions struct {
	// MaxAttempts is how many times a call is tried (default DefaultMaxAttempts).
	MaxAttempts int
	// BaseDelay is the first backoff delay (default DefaultBaseDelay).
	BaseDelay time.Duration
	// MaxDelay caps the backoff delay (default DefaultMaxDelay).
	MaxDelay time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	return o
}

// backoff sleeps before retry number attempt (1-based), as package dynamo
// does.
func (o RetryOptions) backoff(ctx context.Context, attempt int) error {
	return dynamo.Backoff(ctx, attempt, o.BaseDelay, o.MaxDelay)
}

// Do calls f until it succeeds, fails with an error that is not worth
// retrying, or MaxAttempts calls have failed, backing off between calls as
// the replicator's writes do. Zero fields take the defaults.
func (o RetryOptions) Do(ctx context.Context, f func() error) error {
	return o.withDefaults().do(ctx, f)
}

// do calls f until it succeeds, fails with an error that is not worth
// retrying, or MaxAttempts calls have failed.
func (o RetryOptions) do(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !dynamo.Retryable(err) {
			return err
		}
		if attempt >= o.MaxAttempts {
			return fmt.Errorf("%w after %d attempts: %w", dynamo.ErrRetriesExhausted, attempt, err)
		}
		if berr := o.backoff(ctx, attempt); berr != nil {
			return fmt.Errorf("retry after %w: %w", err, berr)
		}
	}
}
