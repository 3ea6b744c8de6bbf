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
//
// # Rules
//
// With a rule set (package rules; BackfillOptions.Rules,
// VerifyOptions.Rules, RepairOptions.Rules) the target is a filtered,
// reshaped, re-keyed copy, and every operation applies the same rules.
// Without one (nil, or [rules.RuleSet.IsIdentity]) nothing here changes.
// docs/rules-commands.md has the whole story.
//
// The backfill passes each scanned item through [rules.RuleSet.Target]:
// an item a filter drops is counted (Filtered) and not written; an item
// the rules fail on is counted (Failed) and listed with its key
// (FailedItems), and the backfill goes on and then returns
// [ErrItemsFailed]. Two items of one BatchWriteItem call mapped to one
// target key would make DynamoDB refuse the call: the first is written,
// the others are counted as Collisions (and Failed) and listed with both
// source keys. Collisions between batches are not seen by the backfill
// (the last writer wins); verify reports them. The checkpoint records
// source keys, as without rules, and the rule set's fingerprint
// ([rules.RuleSet.Fingerprint]): a resume with other rules, or none, is
// refused ([ErrCheckpointMismatch]).
//
// # Verify with rules
//
// The source pass maps each source item S through the rules to the
// target key and item it should have (or nothing, for a filtered item) and
// compares that item with the target's at that key, with [tablecmp], as
// without rules. The target pass finds target items no source item maps
// to. When the rules carry the source key attributes into the target item
// ([rules.RuleSet.SourceKey]: no key rule, or one that leaves them in
// place), it reads each target item's source key back from it (the scan
// projects the target key and those attributes), reads that source item
// and checks that it passes the filters and maps to this target key; if
// not, the item is extra. Otherwise (the rules drop or overwrite a source
// key attribute) it falls back to the set of target keys the source pass
// expected, held in memory: one map entry per copied item, its target key
// and its source key as strings, about 120 bytes plus the two keys' sizes
// (VerifyResult.ExpectedKeys counts them; measured: 164 bytes an item
// for an 18-byte source key re-keyed to 23 bytes, so 10 million such
// items take about 1.6 GB). In that mode an item added to the source during
// the run can be reported extra.
//
// With ttl_deletes: skip the copy keeps the items the source's TTL
// expired. Given the source's TTL attribute (VerifyOptions.TTLAttribute),
// found in the target under the name the rules give it
// ([rules.RuleSet.TargetAttribute]), a target item no source item maps to
// is a kept expired copy, counted in VerifyResult.ExpiredKept and not
// reported, when its own source item (read back with the reverse
// mapping) is gone and its TTL is a number of epoch seconds at or before
// now. One without a TTL, with a future one, one before 2012 (DynamoDB's
// TTL, running since 2017, ignores a TTL more than five years old), or
// whose source item exists is extra. Without the reverse mapping the owner is unknown, and without
// the TTL attribute in the target (dropped, or changed by a rule) the TTL
// is: such an item is extra, as a repair leaves it ([ErrOwnerUnknown],
// [ErrExpiredKept]).
//
// A collision, two source items mapped to one target key, is reported as
// [Collision] with both source keys: found from the target item's own
// source key when the source item compared differs (reverse mapping), or
// in the expected set. A source item the rules fail on is [RuleFailed].
// Rechecks work as without rules: the target item is re-read first, then
// the source items, consistently, and the rules applied again. A
// difference settles only when the target matches what the rules now make
// of the source item: one that maps to another target key since is
// checked at that key (one level: a move of a move is the next verify's),
// and the copy left at the old key by a move, a deletion or a filter is
// the target pass's to report (in the fallback the old key leaves the
// expected set).
// Differences carry SourceKey and TargetKey; Key is the target key.
//
// # Repair with rules
//
// [Repairer.RepairTarget] repairs one target key tk. Each round it reads
// the target item at tk (consistent), then finds its owner: the source
// key recovered from the target item, and the hint the caller gives (the
// verify difference's source key, the redriven record's key). It reads
// those source items (consistent) and expects what the rules make of the
// one that passes the filters and maps to tk, or no item if none does.
// It writes that (PutItem or DeleteItem) with the same condition as
// without rules, that the target item is still as read, and loops until a
// read finds them equal. A candidate that now maps to another target key
// tk2 (a re-key) gets tk2 repaired after tk. Two candidates mapping to tk
// are a collision, not repaired. A target item whose owner cannot be
// recovered (the rules drop the source key) and that no hint maps to is
// left as it is ([ErrOwnerUnknown]): another source item may own it.
// With ttl_deletes: skip the copy keeps items the source's TTL expired, so
// a target item whose own source item is gone is left as it is too
// ([ErrExpiredKept]): the stream will not bring it back. (Verify counts
// such an item as a kept copy, not extra, when its TTL has passed.)
// [Repairer.RepairSource] repairs every target key a source key may
// have a copy at.
//
// The guarantee holds with rules, by the same argument: a replicated
// write to tk is made from a change of a source item that maps to tk (or
// did, for its delete), made before the write. The repair read the
// target item first and the source items after it, so the value it
// computes reflects every source change whose replicated write the target
// read could contain; its write is conditioned on the target item still
// being the one read, so any replicated write that landed since makes it
// fail and the round starts over. A repair therefore never replaces a
// newer replicated value with an older one. A source change the repair
// did not see (a source item that starts mapping to tk after the repair's
// reads) travels through the stream and is applied after the repair's
// write, or makes the condition fail.
package tablesync
