// Package replicate turns an ordered batch of stream changes into writes on a
// target table, and says which part of the batch must be retried.
//
// It is plain Go: it knows nothing of Lambda events or SDK clients. The
// Lambda adapter (package lambdahandler) converts stream records into
// [Change] values once, at the edge; a [Writer] (package dynamo) performs the
// writes.
//
// # Ordering and collapse
//
// Records of one stream shard arrive in sequence-number order, and only the
// last change of an item matters for the final state. [Replicator.Apply]
// therefore collapses the batch to one write per item key (the last
// change wins), which also avoids DynamoDB's "Provided list of item keys
// contains duplicates" rejection, and sends those writes in chunks of at most
// [MaxBatchWrites] requests and [MaxBatchBytes] bytes, several chunks at once.
// Every write is idempotent (a put of the full new image, or a delete of the
// key), so re-applying any suffix of the stream converges to the same state.
//
// # Failure checkpoint
//
// With ReportBatchItemFailures, Lambda resumes a stream from the lowest
// sequence number reported as failed and re-sends every record after it
// (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
// When any key's write fails definitively (a non-retryable error, retries
// exhausted, or the invocation is out of time), Apply reports the sequence
// number of the earliest record of that key in the batch; a record that could
// not be decoded at all reports its own. The lowest of those is the
// checkpoint. Records before it are applied; records after it that were
// applied are simply applied again on the retry. Sequence numbers are
// compared as unbounded decimal integers ([CompareSeq]).
//
// # Rule sets
//
// With [Options.Rules] (package rules), [Replicator.Plan] first turns the
// batch's records into the target writes the rule set gives them (a put of
// the transformed item, the delete of a target key the item left), checks
// them for two source items written to one target key, and plans those
// writes as above; [Plan.Failed] still answers for the records. A record
// whose rules fail fails at its own sequence number; a record they give no
// write is applied and counted (Result.Filtered, Result.TTLSkipped). nil
// or the identity rule set keeps the plain path. With a key rule, a delete
// the rules make carries an owner ([Write.Owner]) so that it does not
// remove an item another source item moved to that key. See reshape.go.
//
// # Validation
//
// Every record is checked, including records whose effect is superseded by a
// later change of the same key: a record that cannot be applied fails its key
// (and so is retried and, after the retry limit, reaches the failure
// destination) rather than being skipped.
package replicate
