package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults for the zero fields of a [Policy]: those of the replicator's
// DynamoDB writes.
const (
	// DefaultMaxAttempts is how many times a call is tried in all.
	DefaultMaxAttempts = 10
	// DefaultBaseDelay is the ceiling of the first wait.
	DefaultBaseDelay = 25 * time.Millisecond
	// DefaultMaxDelay caps the ceiling of every wait.
	DefaultMaxDelay = 2 * time.Second
)

// Forever is the MaxAttempts of a Policy that never gives up.
const Forever = math.MaxInt

// ErrExhausted is wrapped by the error of a call that kept failing with
// errors worth retrying for every attempt.
var ErrExhausted = errors.New("retries exhausted")

// Jitter says how a wait is drawn below its ceiling.
type Jitter int

// The jitter rules.
const (
	// FullJitter waits a uniform random time in [0, ceiling].
	FullJitter Jitter = iota
	// HalfJitter waits ceiling/2 plus a uniform random time in [0, ceiling/2].
	HalfJitter
	// NoJitter waits the ceiling.
	NoJitter
)

// Policy says how often a call is tried and how long to wait between
// tries. Zero fields take the package defaults (see [Policy.Or] for other
// defaults).
type Policy struct {
	// MaxAttempts is how many times a call is tried in all, the first
	// included (zero or negative: DefaultMaxAttempts; Forever: no limit).
	MaxAttempts int
	// BaseDelay is the ceiling of the first wait (default DefaultBaseDelay).
	BaseDelay time.Duration
	// MaxDelay caps the ceiling of every wait (default DefaultMaxDelay).
	MaxDelay time.Duration
	// Jitter is how a wait is drawn below its ceiling (default FullJitter).
	Jitter Jitter
}

// Or returns p with its zero fields taken from def: the way a package
// gives a Policy its own defaults. A zero Jitter (FullJitter) also takes
// def's.
func (p Policy) Or(def Policy) Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = def.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = def.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = def.MaxDelay
	}
	if p.Jitter == FullJitter {
		p.Jitter = def.Jitter
	}
	return p
}

// norm applies the package defaults.
func (p Policy) norm() Policy {
	return p.Or(Policy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay})
}

// Exhausted reports whether tries calls use up the attempts: always false
// with MaxAttempts Forever.
func (p Policy) Exhausted(tries int) bool {
	p = p.norm()
	return p.MaxAttempts != Forever && tries >= p.MaxAttempts
}

// Delay returns the wait before retry number attempt (1-based; the call
// numbered attempt+1): drawn by Jitter below min(BaseDelay·2^(attempt−1),
// MaxDelay).
func (p Policy) Delay(attempt int) time.Duration {
	p = p.norm()
	ceiling := min(p.BaseDelay, p.MaxDelay)
	for i := 1; i < attempt && ceiling < p.MaxDelay; i++ {
		if ceiling > p.MaxDelay/2 {
			ceiling = p.MaxDelay
			break
		}
		ceiling *= 2
	}
	switch p.Jitter {
	case HalfJitter:
		return ceiling/2 + rand.N(ceiling/2+1)
	case NoJitter:
		return ceiling
	}
	return rand.N(ceiling + 1)
}

// Wait sleeps Delay(attempt) before retry number attempt (1-based). It
// returns an error without sleeping when ctx's deadline would pass first
// (wrapping context.DeadlineExceeded, also when the deadline has passed)
// or ctx is already cancelled (wrapping its cause), and returns early,
// with ctx's cause wrapped, when ctx ends during the wait.
func (p Policy) Wait(ctx context.Context, attempt int) error {
	d := p.Delay(attempt)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return fmt.Errorf("backoff of %v would pass the deadline: %w", d, context.DeadlineExceeded)
	}
	if ctx.Err() != nil { // cancelled: no wait, however short
		return fmt.Errorf("backoff not started: %w", context.Cause(ctx))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("backoff interrupted: %w", context.Cause(ctx))
	}
}

// Do calls f until it succeeds, says its error is not worth retrying, or
// MaxAttempts calls have failed, waiting with Wait between calls. f gets
// the attempt number (1 for the first call) and returns its error and
// whether that error is worth another call. The error of the last call is
// returned as is when it is not retried, wrapped with ErrExhausted when
// the attempts ran out, and wrapped with Wait's error when the wait failed.
func (p Policy) Do(ctx context.Context, f func(attempt int) (retry bool, err error)) error {
	p = p.norm()
	for attempt := 1; ; attempt++ {
		again, err := f(attempt)
		if err == nil || !again {
			return err
		}
		if p.Exhausted(attempt) {
			return fmt.Errorf("%w after %d attempts: %w", ErrExhausted, attempt, err)
		}
		if werr := p.Wait(ctx, attempt); werr != nil {
			return fmt.Errorf("retry after %w: %w", err, werr)
		}
	}
}
