// Package dynamo writes to a DynamoDB table through the SDK, with the retry
// rules the replicator needs.
//
// [Table] implements replicate.Writer over a consumer-side [API] interface
// that *dynamodb.Client satisfies as is. Build that client with the SDK's
// own retryer turned off (aws.NopRetryer): Table retries throttling, 5xx and
// connection errors itself, with capped exponential backoff and full jitter
// ([DefaultRetry], a retry.Policy), so that every retry is counted and none
// outlives the invocation deadline.
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
//
// # Deletes with an owner
//
// A delete with replicate.Write.Owner (a delete a rule set with a key rule
// made) must remove the target item only if it still belongs to the source
// item: BatchWriteItem takes no conditions, so Table sends it as a
// DeleteItem conditioned on the owner's attributes, alone and under the
// same retry policy, next to the BatchWriteItem of the other writes;
// SeqGuard adds the owner to its own condition. A failed condition means
// another source item holds the key now (or there is no item): the delete
// is applied. A call without such a delete takes the path above unchanged.
//
// # Raw writes
//
// A stream image in a Lambda event is already DynamoDB JSON, byte for byte
// what BatchWriteItem's PutRequest.Item and DeleteRequest.Key carry. A Table
// built over a *dynamodb.Client (and without Options.Typed) is a
// replicate.RawWriter: writes that carry their JSON (Write.RawItem,
// Write.RawKey, checked by replicate.CheckImage and RawKeyID) are sent as
// is, not decoded and encoded again. The SDK client still does everything
// else: it is called with a placeholder input naming the table and no
// requests (so endpoint resolution, AWS_ENDPOINT_URL_DYNAMODB included, sees
// the real table), and a middleware added for that call alone, last in the
// Serialize step, replaces the serialized body with the raw one
// (smithyhttp.Request.SetStream); the Finalize step then hashes and signs
// that body, and the answer is decoded as usual, so typed errors, retries and
// UnprocessedItems (matched back to the writes by KeyID) work unchanged. We
// chose this over signing requests ourselves with the public v4 signer
// because it keeps every SDK behaviour (endpoint rules, credential refresh,
// clock skew, user agent, response checksums) without copying any of it.
//
// The mechanism depends on where the SDK serializes, so it guards itself:
// the middleware checks that the body it replaces is exactly the
// placeholder's serialization, and a second one, last in Finalize, that
// the body about to be sent is still the raw one. Otherwise every call
// fails with ErrSDKChanged and sends nothing (TestTable_WriteBatch_RawGuard
// runs in make test). Writes without JSON, a chunk mixing both, the
// per-item retry after a ValidationException, SeqGuard's conditional writes
// and the tools keep the typed path.
package dynamo
