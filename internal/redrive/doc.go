// Package redrive brings the keys of the stream batches that exhausted
// their retries to the source table's current value.
//
// Lambda (and ddbsync run) sends only a given-up batch's metadata to the
// on-failure destination: the shard and the first and last sequence
// numbers ([streampoll.BatchInfo]). [Batch] reads that range back from the
// stream (GetShardIterator AT_SEQUENCE_NUMBER up to the end sequence
// number), collects the distinct keys of its records and repairs each key
// from the source with a [tablesync.Repairer]: a conditional write of the
// source's current value, re-read until both tables agree. It goes on past
// a key that fails and names every failed key.
//
// # Why not replay the records
//
// The batch's records are hours old, and the stream's later records of the
// same keys were applied when the batch was given up. Writing the old
// images would move those keys backwards, and if the repair meant to undo
// that failed (throttling, Ctrl-C, permissions), the keys would stay older
// than before the redrive. The target must end at the source's current
// value, and the source is the source of truth: repairing from it is
// enough, and replaying through the handler added only risk. So redrive
// writes no stream image at all. A key either ends equal to the source or
// is reported failed, untouched or at a value no older than it had.
//
// Changes made to the source after a key's repair are in the stream, and
// the replicator applies them as usual.
//
// # Rules
//
// With a rule set ([Options].Rules, the Repairer built with the same),
// the records' source keys and their old and new images go through the
// rules to the target keys to repair ([tablesync.Repairer.RepairSource]):
// the key the source item's current value maps to, the key each image
// mapped to (filters aside) and, without a key rule, the renamed source
// key. So a re-keyed item is repaired at its new key and its old one (a
// delete if nothing maps there any more), and an item that left the filter
// has its copy deleted. A record without images (a KEYS_ONLY stream) gives
// only the keys the rules compute from the source key; the rest is for
// `ddbsync verify --repair --rules`. With ttl_deletes: skip, a key whose
// records are all TTL deletes is left as it is, as the replicator leaves
// it (a repair from the source would delete the expired item's copy).
//
// # Sources
//
// The on-failure records come from a [Source]: a failure file written by
// ddbsync run ([FileSource]) or the SQS queue of Lambda's on-failure
// destination ([QueueSource]). A record is removed ([Source.Done]) only
// when every key of its batch was repaired and no record had expired;
// otherwise it is kept ([Source.Keep]) for another redrive. A failure file
// is never deleted: the lines redriven are appended to FILE.done and the
// file is rewritten atomically with the others.
//
// # Expired records
//
// Stream records are kept 24 hours. When some of a batch's records have
// left the stream their keys are unknown: Batch repairs the keys it could
// read and returns [ErrExpired], and only `ddbsync verify --repair` finds
// the others.
package redrive
