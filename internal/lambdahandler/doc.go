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
// With a rule set (replicate.Options.Rules) the changes also carry each
// record's OldImage and whether it is a TTL expiry, for the rules; without
// one the old images are not kept, so a batch without rules costs what it
// did. The publisher forwards both in the envelope either way: the apply
// end applies the rules.
//
// # Handler types
//
// Each mode is its own type: StreamHandler applies stream events to the
// target table (the direct path); PublishHandler publishes them to an SNS
// FIFO topic, the head of stream → SNS FIFO → SQS FIFO → table (package
// queue), and applies them too when it has a replicator; QueueHandler
// applies the SQS events of envelopes (raw message delivery) at the other
// end, answered with
// {"batchItemFailures":[{"itemIdentifier":"<messageId>"}]}, where once a
// message of a FIFO group fails every later message of that group is listed
// too (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
//
// Handler is the one entry point Lambda calls. It parses each payload once,
// into a record type that holds both kinds, and hands it by the first
// record's eventSource to the types it was built with: "aws:dynamodb"
// records to its StreamHandler or PublishHandler, "aws:sqs" records to its
// QueueHandler. Package internal/replicator builds it from the configured
// mode. Stream records become changes through replicate.DecodeRecord, the
// decoder the queue path uses too.
//
// # Observability
//
// Each invocation writes one slog line ("batch applied") with counts, lag
// and the first error, never item values, and one Embedded Metric Format
// line in the ddbsync namespace.
package lambdahandler
