// Package retry is the one retry policy of ddbsync: how many times a call
// is tried, how long to wait between tries, and never waiting past the
// caller's deadline.
//
// # Delays
//
// The wait before retry number n (1-based) has a ceiling of
// BaseDelay·2^(n−1), capped at MaxDelay. [FullJitter] (the zero value, and
// what AWS recommends for contending clients, see
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)
// waits a uniform random time in [0, ceiling]; [HalfJitter] waits in
// [ceiling/2, ceiling]; [NoJitter] waits the ceiling.
//
// # Deadlines
//
// [Policy.Wait] never sleeps past ctx's deadline: when the wait would end
// after it, Wait returns an error wrapping [context.DeadlineExceeded] at
// once, so the caller reports what is left instead of being cut off mid-
// sleep. The replicator hands its writers a context whose deadline is the
// Lambda deadline minus a margin (replicate.DeadlineContext), so a retry
// never starts in the time kept to answer Lambda. When ctx is cancelled or
// its deadline passes during a wait, Wait returns at once with the
// context's error (its cause) wrapped.
//
// Which errors are worth retrying is the caller's to say: for AWS calls,
// dynamo.Retryable.
package retry
