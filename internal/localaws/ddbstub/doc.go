// Package ddbstub is an in-process HTTP stand-in for the DynamoDB write API,
// for benchmarks and retry tests that need the real SDK client and its
// network path but not DynamoDB's storage.
//
// A [Server] listens on 127.0.0.1 (net/http/httptest) and speaks DynamoDB's
// JSON 1.0 protocol for three operations, chosen by the X-Amz-Target header:
// DynamoDB_20120810.BatchWriteItem, PutItem and DeleteItem. It stores
// nothing: after a fixed latency it answers {"UnprocessedItems":{}} or {},
// and counts the calls and the write requests it acknowledged. Every answer
// carries X-Amz-Crc32, the CRC32 of its body, as DynamoDB's do.
//
// # Latency
//
// [Options.Latency] is added to every answer, errors included, to stand in
// for the round trip to DynamoDB in the same region (a few milliseconds for
// a BatchWriteItem of 25 small items). The wait ends early if the client
// gives up, and such a call counts nothing.
//
// # Faults
//
// [Options.Answer], when set, is asked about every call and may make it fail
// with a DynamoDB error (see [Throttle]) or, for BatchWriteItem, return some
// of its requests in UnprocessedItems, which is how DynamoDB reports a
// partial success
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
//
// # Parsing
//
// The stub reads only what it must: a BatchWriteItem body is scanned once
// to count its write requests, without decoding items, and is decoded (into
// raw requests) only when an answer asks for UnprocessedItems.
package ddbstub
