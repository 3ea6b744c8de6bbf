// Package chaos holds the end-to-end property tests of ddbsync's promise:
// no write is ever lost or applied stale, even when DynamoDB misbehaves.
//
// It has no code of its own: the tests run the real pieces (the Lambda
// handler in process, or the built bootstrap under the Lambda Runtime
// Interface Emulator; the stream poller behind `ddbsync run`) against
// DynamoDB Local, with the target table's writes going through a
// fault-injecting proxy (package faultproxy). DynamoDB Local never
// throttles and never returns UnprocessedItems, so without the proxy the
// paths that lose data in other replicators would never run.
//
// # Properties
//
//   - Faults: under 5% throttles, 2% 500s, 10% partial UnprocessedItems and
//     1% connection resets, a 10,000-operation random workload replicated by
//     the poller ends with the target exactly equal to the source, and the
//     handler's failures and retries show in its metrics.
//   - Deadline: with a 3 s function timeout and 200 ms added to every write,
//     the bootstrap under the emulator reports the records it could not
//     apply as a batch item failure before the deadline instead of timing
//     out, and re-invocations from the reported record finish the job.
//   - Poison: a record whose key does not fit the target's key schema ends
//     in the failure file after the configured retries while every other
//     key keeps replicating; after the item is fixed, a repair recovers it.
//   - Restart: stopping the poller (gracefully, or killing it mid-batch) and
//     starting it again loses nothing.
//
// Every test is seeded, bounded in time, waits by polling with deadlines
// (never by sleeping) and uses its own DynamoDB Local database (access key
// id).
package chaos
