// Package lambdahandler is the Lambda edge of the replicator: it decodes a
// DynamoDB Streams event (the JSON Lambda delivers), hands the changes to
// replicate, and answers with partial batch failures.
//
// # Response
//
// The function's event source mapping must set FunctionResponseTypes to
// ReportBatchItemFailures. The handler then answers
// {"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}]} naming the
// earliest record that was not applied, and Lambda retries from there
// (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html);
// an empty list means the whole batch was applied. The handler returns an
// error (whole batch retried) only when the event itself cannot be read: it
// is not JSON, or a record has no valid sequence number to report.
//
// # Records
//
// INSERT and MODIFY put the record's NewImage, so the stream's view type must
// be NEW_IMAGE or NEW_AND_OLD_IMAGES; REMOVE deletes the record's Keys. A TTL
// expiry is a REMOVE whose userIdentity is
// {"type":"Service","principalId":"dynamodb.amazonaws.com"}
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html);
// it is replicated like any delete and counted apart in the log.
//
// # Message-queue path
//
// The same handler serves both ends of stream → SNS FIFO → SQS FIFO →
// table (package fanout). It tells events apart by the first record's
// eventSource: "aws:dynamodb" records are applied to the target table, or
// published to the topic when Options.Publisher is set (or both); "aws:sqs"
// records carry envelopes (raw message delivery) and are applied through
// Options.Applier, answered with
// {"batchItemFailures":[{"itemIdentifier":"<messageId>"}]}, where once a
// message of a FIFO group fails every later message of that group is listed
// too (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
//
// # Observability
//
// Each invocation writes one slog line ("batch applied") with counts, lag
// and the first error, never item values, and one Embedded Metric Format
// line in the ddbsync namespace.
package lambdahandler
