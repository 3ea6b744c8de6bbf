package tablesync

import (
	"context"
	"sync"
	"time"
)

// rateLimiter is a token bucket counting capacity units: it fills at rate
// units a second up to one second's worth. A caller takes its units at
// once, going into debt if the bucket holds fewer, and then waits until the
// debt would have been refilled; so a request larger than the bucket still
// passes, and the long-run rate holds. A nil *rateLimiter never waits.
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newRateLimiter returns a limiter of rate units a second, or nil (no
// limit) when rate is not positive.
func newRateLimiter(rate float64) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	l := &rateLimiter{rate: rate, burst: max(rate, 1), now: time.Now, sleep: sleepCtx}
	l.tokens = l.burst
	l.last = l.now()
	return l
}

// wait takes units from the bucket and waits until they are paid for. It
// returns ctx's error if ctx ends first (the units stay taken).
func (l *rateLimiter) wait(ctx context.Context, units float64) error {
	if l == nil || units <= 0 {
		return nil
	}
	l.mu.Lock()
	now := l.now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= units
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	return l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second)))
}

// sleepCtx waits for d or until ctx ends, and then returns ctx's cause.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
