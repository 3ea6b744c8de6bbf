// Package streampoll is a local stand-in for Lambda's event source mapping
// for DynamoDB Streams: it reads a table's stream through the DynamoDB
// Streams API and hands batches, in exactly the JSON Lambda delivers, to a
// function ([Invoker]), honouring partial batch failures as Lambda does.
//
// On AWS the event source mapping does this work; locally nothing does
// (`sam local invoke` only replays a file). `ddbsync run` uses this package
// to drive the replicator's handler in process, or the real bootstrap under
// the Runtime Interface Emulator ([lambdainvoke.Client]).
//
// # Shards and ordering
//
// [Poller.Run] lists the stream's shards with DescribeStream (paginated with
// ExclusiveStartShardId) and reads each shard with GetShardIterator and
// GetRecords. A child shard is read only after its parent is drained (the
// parent's GetRecords returned no NextShardIterator), so records of one item
// are delivered in order across shard splits, as Lambda does
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing).
// A shard whose parent has left the stream (24-hour retention) is read at
// once. Shards are re-listed every [Options.DescribeInterval] and whenever
// a shard is drained. Open shards are read concurrently, one goroutine per
// shard, at most [Options.MaxShards] at a time.
//
// The starting position is TRIM_HORIZON (every record still in the stream)
// or LATEST (closed shards are skipped and open shards start at their end;
// shards created later, or whose parent is still open, start at their
// beginning). With LATEST every open shard's position is fixed when Run
// starts: Run takes their LATEST iterators before it reads any shard, and
// refuses to start ([TooManyShardsError]) when they are more than
// [Options.MaxShards], because a shard waiting for a reader would have to
// take its LATEST iterator later (an iterator expires after 15 minutes) and
// skip what was written meanwhile. [Options.Resume] restarts
// shards after a reported position with AFTER_SEQUENCE_NUMBER; the
// ancestors of a resumed shard count as drained. [Options.StartAt] (with
// TRIM_HORIZON) starts each shard at its first record created at or after
// a time, as AT_TIMESTAMP would: the hand-over from an export at T starts
// at T minus an overlap (docs/export-backfill.md). An expired iterator is
// renewed after the last record read (a LATEST iterator that expires before
// any record was read stops Run with an error).
//
// # Batches
//
// Records are converted losslessly: each image goes from the Streams API's
// attribute values through attributevalue.FromDynamoDBStreamsMap and
// attributevalue.MarshalMapJSON, so numbers keep their decimal strings.
// The event is the JSON of aws-lambda-go's events.DynamoDBEvent (eventID,
// eventName, eventVersion, eventSource "aws:dynamodb", awsRegion, dynamodb
// {ApproximateCreationDateTime, Keys, NewImage, OldImage, SequenceNumber,
// SizeBytes, StreamViewType}, eventSourceARN, userIdentity).
//
// A batch holds at most [Options.BatchSize] records (Lambda's BatchSize,
// default 100, at most 10,000) and at most 6 MB of JSON (Lambda's payload
// limit). With a zero [Options.BatchWindow] a batch is sent as soon as
// records are read; otherwise the poller keeps reading until the batch is
// full or the window has passed since its first record
// (MaximumBatchingWindowInSeconds). Each GetRecords call asks for up to
// 1,000 records; calls on one shard are at least 200 ms apart (Lambda polls
// each shard about four times a second, and DynamoDB Streams throttles
// faster readers). When a read returns nothing the poller waits, doubling
// the wait up to [Options.PollInterval].
//
// # Failures
//
// The function answers with events.DynamoDBEventResponse. As with
// ReportBatchItemFailures
// (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html):
// an empty or null batchItemFailures list, or an empty response, is a
// complete success; otherwise the lowest reported itemIdentifier (a
// SequenceNumber) is the checkpoint, records before it are done and the
// batch is sent again from it. An empty, null or unknown itemIdentifier,
// an unreadable response, or an error from Invoke (a function error) fails
// the whole batch. Failed batches are retried with exponential backoff.
// With [Options.BisectOnFunctionError] (Lambda's BisectBatchOnFunctionError)
// a batch of two or more records that fails as a whole (an error from
// Invoke) is split in two instead, and each half is delivered in turn with
// its own retries (a split is not a retry); a half that succeeds moves the
// position on, so only the records that keep failing are given up.
// After [Options.MaxRetries] retries the remaining records' metadata is
// written to [Options.Failures] as one JSON line shaped like Lambda's
// on-failure invocation record for DynamoDB Streams ([FailureRecord],
// https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)
// and the poller goes on past the batch. If that write fails, Run stops
// with an error rather than drop the records.
//
// # Stopping and position
//
// Cancelling Run's context stops reading; the batch in flight is finished
// (its invocation is not cancelled, but no retry is started) and Run
// returns nil. [Poller.Positions] then reports, per shard, the last
// sequence number processed (applied, or recorded as failed). Positions
// are kept in memory only. [Options.StopWhenIdle] stops Run once the
// poller has been idle that long: every shard's latest read found nothing
// new and no record has been read or processed since. [Poller.WaitIdle]
// waits for the same condition, which tests and the demo use to know that
// replication has caught up with writes that have ended.
package streampoll
