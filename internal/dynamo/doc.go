// Package dynamo writes to a DynamoDB table through the SDK, with the retry
// rules the replicator needs.
//
// [Table] implements replicate.Writer over a consumer-side [API] interface
// that *dynamodb.Client satisfies as is. Build that client with the SDK's
// own retryer turned off (aws.NopRetryer): Table retries throttling, 5xx and
// connection errors itself, with capped exponential backoff and full jitter,
// so that every retry is counted and none outlives the invocation deadline.
//
// # UnprocessedItems
//
// BatchWriteItem may succeed while leaving part of the request unprocessed
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html):
// those requests are in the response's UnprocessedItems, not in an error.
// Table re-sends exactly those, with backoff, until none are left, the
// attempts are exhausted or the deadline comes; only then is a write reported
// as failed.
//
// # Poison writes
//
// A ValidationException rejects a whole BatchWriteItem call, for instance
// when one item's key does not match the table's key schema. Table then
// writes each item of that call alone (PutItem or DeleteItem), so that only
// the bad items fail.
//
// # Stale-write guard
//
// [SeqGuard] is a second replicate.Writer over the same Table, for the
// message-queue path where an older change can arrive after a newer one. It
// writes each item alone with a PutItem conditioned on the stream sequence
// number kept in a replication attribute (stored as a zero-padded decimal
// string, see [PadSeq], because sequence numbers exceed the 38 digits of a
// DynamoDB number); a delete puts a tombstone that expires by TTL, so that
// an older change redelivered later cannot recreate the item. A
// ConditionalCheckFailedException means the change is stale: it is skipped
// and reported as applied.
// Table.WriteBatch is unchanged.
package dynamo
