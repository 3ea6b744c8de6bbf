package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/retry"
)

var errBusy = errors.New("busy")

// instant waits (almost) nothing, so attempts are counted without delay.
var instant = retry.Policy{BaseDelay: time.Nanosecond, MaxDelay: time.Nanosecond}

func TestPolicy_Do(t *testing.T) {
	tests := map[string]struct {
		policy    retry.Policy
		results   []error // what each call returns; the last repeats
		retryable bool
		wantCalls int
		wantErr   error // nil: no error
		exhausted bool
	}{
		"success first":           {policy: instant, results: []error{nil}, retryable: true, wantCalls: 1},
		"success after two fails": {policy: instant, results: []error{errBusy, errBusy, nil}, retryable: true, wantCalls: 3},
		"exhausted":               {policy: withAttempts(instant, 4), results: []error{errBusy}, retryable: true, wantCalls: 4, wantErr: errBusy, exhausted: true},
		"one attempt":             {policy: withAttempts(instant, 1), results: []error{errBusy}, retryable: true, wantCalls: 1, wantErr: errBusy, exhausted: true},
		"not retryable":           {policy: instant, results: []error{errBusy}, wantCalls: 1, wantErr: errBusy},
		"default attempts":        {policy: instant, results: []error{errBusy}, retryable: true, wantCalls: retry.DefaultMaxAttempts, wantErr: errBusy, exhausted: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			calls := 0
			err := tt.policy.Do(t.Context(), func(attempt int) (bool, error) {
				calls++
				assert.Equal(t, calls, attempt, "attempts are numbered from 1")
				return tt.retryable, tt.results[min(calls, len(tt.results))-1]
			})
			assert.Equal(t, tt.wantCalls, calls)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.exhausted, errors.Is(err, retry.ErrExhausted))
		})
	}
}

func TestPolicy_Do_Forever(t *testing.T) {
	// Forever stops only when f succeeds: 50 failures are not enough.
	calls := 0
	err := withAttempts(instant, retry.Forever).Do(t.Context(), func(int) (bool, error) {
		calls++
		if calls <= 50 {
			return true, errBusy
		}
		return false, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 51, calls)
}

func TestPolicy_Do_StopsAtDeadline(t *testing.T) {
	// The first wait (2h, no jitter) would pass the deadline (1h): Do
	// returns after one call instead of sleeping, and ctx is still live.
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	calls := 0
	err := retry.Policy{MaxAttempts: 5, BaseDelay: 2 * time.Hour, Jitter: retry.NoJitter, MaxDelay: 2 * time.Hour}.Do(ctx, func(int) (bool, error) {
		calls++
		return true, errBusy
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, errBusy, "the last call's error is kept")
	assert.NotErrorIs(t, err, retry.ErrExhausted)
	assert.Equal(t, 1, calls)
	assert.NoError(t, ctx.Err(), "Do must not have slept until the deadline")
}

func TestPolicy_Wait(t *testing.T) {
	long := retry.Policy{BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: retry.NoJitter}
	cancelled, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("stopping")
	cancel(cause)
	plain, cancelPlain := context.WithCancel(context.Background())
	cancelPlain()
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelPast()
	soon, cancelSoon := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSoon()
	tests := map[string]struct {
		ctx     context.Context
		policy  retry.Policy
		wantErr []error // nil: no error
	}{
		"short wait":                     {ctx: context.Background(), policy: instant},
		"short wait before the deadline": {ctx: soon, policy: instant},
		"would pass deadline":            {ctx: soon, policy: long, wantErr: []error{context.DeadlineExceeded}},
		"deadline passed":                {ctx: past, policy: instant, wantErr: []error{context.DeadlineExceeded}},
		"cancelled before":               {ctx: cancelled, policy: long, wantErr: []error{cause}},
		"cancelled, no cause":            {ctx: plain, policy: long, wantErr: []error{context.Canceled}},
		"cancelled, zero delay":          {ctx: cancelled, policy: retry.Policy{BaseDelay: time.Nanosecond, MaxDelay: time.Nanosecond, Jitter: retry.FullJitter}, wantErr: []error{cause}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.policy.Wait(tt.ctx, 1)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErr {
				assert.ErrorIs(t, err, want)
			}
		})
	}
}

func TestPolicy_Wait_ReturnsOnCancel(t *testing.T) {
	// A wait of an hour, without a deadline, ends when ctx is cancelled.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- retry.Policy{BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: retry.NoJitter}.Wait(ctx, 1)
	}()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
}

func TestPolicy_Delay(t *testing.T) {
	const ms = time.Millisecond
	tests := map[string]struct {
		policy  retry.Policy
		attempt int
		lo, hi  time.Duration // bounds of every draw
	}{
		"no jitter, first":         {policy: retry.Policy{BaseDelay: 10 * ms, MaxDelay: time.Second, Jitter: retry.NoJitter}, attempt: 1, lo: 10 * ms, hi: 10 * ms},
		"no jitter, doubles":       {policy: retry.Policy{BaseDelay: 10 * ms, MaxDelay: time.Second, Jitter: retry.NoJitter}, attempt: 4, lo: 80 * ms, hi: 80 * ms},
		"no jitter, capped":        {policy: retry.Policy{BaseDelay: 10 * ms, MaxDelay: 50 * ms, Jitter: retry.NoJitter}, attempt: 4, lo: 50 * ms, hi: 50 * ms},
		"no jitter, huge attempt":  {policy: retry.Policy{BaseDelay: time.Minute, MaxDelay: time.Hour, Jitter: retry.NoJitter}, attempt: 1 << 20, lo: time.Hour, hi: time.Hour},
		"no jitter, base over max": {policy: retry.Policy{BaseDelay: time.Second, MaxDelay: 10 * ms, Jitter: retry.NoJitter}, attempt: 1, lo: 10 * ms, hi: 10 * ms},
		// dynamo.Backoff computed base<<(attempt-1), which overflows here
		// (RETRY_BASE_DELAY_MS=60000, WRITE_MAX_ATTEMPTS=30): a negative
		// ceiling, and rand.Int64N panicked.
		"full jitter, 60s base, attempt 29": {policy: retry.Policy{BaseDelay: time.Minute, MaxDelay: time.Minute}, attempt: 29, lo: 0, hi: time.Minute},
		"full jitter, 60s base, attempt 30": {policy: retry.Policy{BaseDelay: time.Minute, MaxDelay: time.Minute}, attempt: 30, lo: 0, hi: time.Minute},
		"full jitter":                       {policy: retry.Policy{BaseDelay: 10 * ms, MaxDelay: time.Second}, attempt: 3, lo: 0, hi: 40 * ms},
		"full jitter, capped":               {policy: retry.Policy{BaseDelay: 10 * ms, MaxDelay: 25 * ms}, attempt: 30, lo: 0, hi: 25 * ms},
		"half jitter":                       {policy: retry.Policy{BaseDelay: 100 * ms, MaxDelay: 5 * time.Second, Jitter: retry.HalfJitter}, attempt: 2, lo: 100 * ms, hi: 200 * ms},
		"half jitter, capped":               {policy: retry.Policy{BaseDelay: 100 * ms, MaxDelay: 5 * time.Second, Jitter: retry.HalfJitter}, attempt: 40, lo: 2500 * ms, hi: 5 * time.Second},
		"defaults, first":                   {policy: retry.Policy{Jitter: retry.NoJitter}, attempt: 1, lo: retry.DefaultBaseDelay, hi: retry.DefaultBaseDelay},
		"defaults, capped":                  {policy: retry.Policy{Jitter: retry.NoJitter}, attempt: 100, lo: retry.DefaultMaxDelay, hi: retry.DefaultMaxDelay},
		"defaults, full jitter":             {policy: retry.Policy{}, attempt: 100, lo: 0, hi: retry.DefaultMaxDelay},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for range 1000 {
				d := tt.policy.Delay(tt.attempt)
				require.GreaterOrEqual(t, d, tt.lo)
				require.LessOrEqual(t, d, tt.hi)
			}
		})
	}
}

func TestPolicy_Exhausted(t *testing.T) {
	tests := map[string]struct {
		policy retry.Policy
		tries  int
		want   bool
	}{
		"default, 9 tries":  {policy: retry.Policy{}, tries: retry.DefaultMaxAttempts - 1, want: false},
		"default, 10 tries": {policy: retry.Policy{}, tries: retry.DefaultMaxAttempts, want: true},
		"3 of 3":            {policy: retry.Policy{MaxAttempts: 3}, tries: 3, want: true},
		"2 of 3":            {policy: retry.Policy{MaxAttempts: 3}, tries: 2, want: false},
		"forever":           {policy: retry.Policy{MaxAttempts: retry.Forever}, tries: 1 << 40, want: false},
		"negative: default": {policy: retry.Policy{MaxAttempts: -1}, tries: retry.DefaultMaxAttempts, want: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.Exhausted(tt.tries))
		})
	}
}

func TestPolicy_Or(t *testing.T) {
	def := retry.Policy{MaxAttempts: 8, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: retry.HalfJitter}
	tests := map[string]struct {
		in, want retry.Policy
	}{
		"zero takes all":  {in: retry.Policy{}, want: def},
		"set fields kept": {in: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Hour, Jitter: retry.NoJitter}, want: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Hour, Jitter: retry.NoJitter}},
		"forever kept":    {in: retry.Policy{MaxAttempts: retry.Forever}, want: retry.Policy{MaxAttempts: retry.Forever, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: retry.HalfJitter}},
		"negative delays": {in: retry.Policy{BaseDelay: -1, MaxDelay: -1}, want: def},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.Or(def))
		})
	}
}

func withAttempts(p retry.Policy, n int) retry.Policy {
	p.MaxAttempts = n
	return p
}
