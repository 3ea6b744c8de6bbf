// Package faultproxy is a fault-injecting HTTP proxy for DynamoDB's JSON
// protocol, for tests: it stands in front of DynamoDB Local on a free
// 127.0.0.1 port and makes it misbehave the ways DynamoDB does, so the
// replicator's retry paths can be exercised end to end with the real SDK.
//
// DynamoDB Local never throttles, never fails with a 5xx and never returns
// UnprocessedItems. Those are exactly the answers on which replicators lose
// writes, so tests point the client under test at [Proxy.URL] (through
// BaseEndpoint or AWS_ENDPOINT_URL_DYNAMODB) instead of at the server.
//
// It is test harness code: nothing in the replicator imports it.
//
// # Faults
//
// Each targeted request draws one fault with the probabilities of
// [Options]; the rest are forwarded untouched:
//
//   - Throttle: HTTP 400 ProvisionedThroughputExceededException; the SDK
//     returns *types.ProvisionedThroughputExceededException.
//   - Throttling: HTTP 400 ThrottlingException (a smithy.APIError with that
//     code).
//   - ServerError: HTTP 500 InternalServerError (*types.InternalServerError).
//   - Unprocessed: for a BatchWriteItem of two or more write requests, a
//     random non-empty proper subset of them is left out of the forwarded
//     request and added to the answer's UnprocessedItems, merged with
//     whatever DynamoDB Local answered; that is how DynamoDB reports a
//     partial success
//     (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
//     DynamoDB answers ProvisionedThroughputExceededException rather than
//     return every request unprocessed, so a single-request call is
//     forwarded as is.
//   - ResetBefore: the connection is reset (TCP RST) before the request is
//     forwarded: nothing was written.
//   - ResetAfter: the request is forwarded, DynamoDB Local's answer is read
//     and dropped, and the connection is reset: the write happened but the
//     client cannot know.
//
// Every targeted request is also delayed by Latency plus a uniform jitter in
// [0, Jitter), before the fault is applied. Errors are answered with the
// header x-amzn-ErrorType and the body
// {"__type":"com.amazonaws.dynamodb.v20120810#<Type>","message":"…"}, as
// DynamoDB answers them.
//
// Only writes are targeted (BatchWriteItem, PutItem, DeleteItem) unless
// [Options.IncludeReads] is set, so a test can verify the target table
// through the proxy or around it.
//
// # Determinism
//
// Requests are numbered from 1 in arrival order, and the decisions for
// request n (fault, delay, which requests stay unprocessed) come from a
// math/rand/v2 PCG seeded with (Options.Seed, n). The same seed and the same
// request sequence give the same faults; concurrent clients make the
// arrival order, and so the mapping of faults to calls, vary.
//
// # Signatures
//
// DynamoDB Local does not verify SigV4 signatures (a request signed with a
// wrong secret key, or whose body changed after signing, is accepted; the
// access key id only selects the database), so a rewritten BatchWriteItem is
// forwarded with the client's original Authorization header rather than
// re-signed. TestDynamoDBLocal_IgnoresSignatures checks this assumption.
//
// # Checksums
//
// DynamoDB sends an X-Amz-Crc32 header with every answer and the SDK checks
// it; DynamoDB Local leaves it out of error answers. The proxy sets it on
// every answer it sends, rewritten or not.
package faultproxy
