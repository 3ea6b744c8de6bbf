// Package tablesync makes and keeps a target table a complete, correct copy
// of its source: it copies what existed before replication started
// ([Backfill]), compares the two tables ([Verify]) and fixes what differs
// ([Repairer]). The `ddbsync backfill | verify | repair` commands are thin
// wrappers around it; `ddbsync redrive` (package redrive) repairs the keys
// of stream batches that exhausted their retries with its Repairer.
//
// # Safe order
//
// A stream carries only the changes made after it was enabled, so a new
// copy needs both replication and a backfill, in this order:
//
//  1. Enable the source's stream (NEW_AND_OLD_IMAGES) and start the
//     replicator: from now on every change reaches the target.
//  2. Backfill: copy every item that exists in the source.
//  3. Verify with repair: fix what the backfill got wrong.
//
// Step 3 is needed because the backfill writes items as it scanned them,
// with BatchWriteItem, which takes no condition. An item changed while the
// backfill runs can be written by the replicator (new value) before the
// backfill writes its scanned, older value; and an item deleted after it
// was scanned can be deleted by the replicator before the backfill writes
// it back. The stream has no later record for such items, so the replicator
// will not fix them. They are exactly the items that changed during the
// backfill, and a verify pass after it finds every one of them; its repair
// uses conditional writes (below), so it is safe while replication goes on.
// [TableInfo.StreamReady] tells whether the source has a stream with new
// images; `ddbsync backfill` refuses to start without one unless given
// --allow-no-stream.
//
// # Backfill
//
// [Backfill] reads the source with a parallel Scan: Segments.Total
// segments, Segments.Concurrency of them at once, Segments.Only to split
// one table between machines. Items are written through a
// replicate.Writer, the replicator's own dynamo.Table, so they get the same
// retries (UnprocessedItems and throttling, with capped exponential
// backoff and jitter), at most four BatchWriteItem calls in flight per
// segment, optionally limited to MaxWCU write capacity units a second (a
// token bucket; an item costs one unit per started KB).
//
// With a checkpoint file, each segment's position is saved (atomically:
// temporary file, fsync, rename) as the key of the last item such that it
// and every item before it in the segment are written, so the Scan resumes
// right after it (ExclusiveStartKey). On cancellation the writes in flight
// finish before the final save, so an interrupted and resumed backfill
// writes each item once; after a crash, at most the writes in flight are
// repeated, which is harmless.
//
// # Verify
//
// [Verify] scans the source and looks each item up in the target
// (BatchGetItem, 100 keys a call, UnprocessedKeys retried), then scans the
// target and looks its items up in the source, for the items only the
// target has. Values compare as package tablecmp defines: numbers as
// decimals ("1E+2" equals "100"), sets as sets, maps and lists
// recursively. An apparent difference is re-read from both tables with
// strongly consistent reads (target first), Rechecks times with
// RecheckDelay between them, and reported only if it persists; so a change
// still in flight through the replicator is not reported as drift.
//
// # Repair and its guarantee
//
// [Repairer.Repair] fixes one key from the source of truth. It reads the
// target item, then the source item, both with ConsistentRead. If they
// differ it writes the source value to the target (PutItem, or DeleteItem
// when the source has none) with a condition that the target item is still
// as read: attribute_not_exists of the key when it was absent, otherwise
// attribute_exists and the equality of each of its non-key attributes (as
// many as fit in DynamoDB's 4 KB expression limit). Then it reads both
// again and starts over until they are equal.
//
// The guarantee: a repair write never replaces a target value other than
// the one it read; since the target is only written from the source's
// stream, and it was read before the source, the value written is at least
// as new as the value replaced. So a repair never overwrites a newer
// replicated value with an older one. If the replicator wrote the item in
// between, the condition fails (ConditionalCheckFailedException), the
// conflict is counted and the key is read again. A key counts as repaired
// once a later consistent read finds both tables equal; any later change
// travels through the stream. Throttled reads and writes are retried with
// backoff, never dropped: a key that cannot be repaired is counted as
// failed and reported. The one case the condition cannot see is a
// replicated write that only adds attributes beyond the 4 KB expression
// budget; the re-read after the write catches it and repairs again.
package tablesync
