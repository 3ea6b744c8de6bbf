// Package queue is the queue topology (template-queue.yaml): it carries
// stream changes through an SNS FIFO topic and an SQS FIFO queue to a
// target table, keeping each item's changes in order.
//
// # Envelope
//
// Each stream record becomes one message whose body is an [Envelope]: a
// compact, versioned JSON object (v=1) with the event name, the keys and new
// image in DynamoDB JSON, the sequence number, the source stream and table
// ARNs and the approximate creation time. The queue must deliver raw
// messages (RawMessageDelivery), so the SQS body is the envelope itself.
//
// An SNS message holds at most 256 KiB
// (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html) while a
// DynamoDB item may reach 400 KB. When an envelope is too large, the new
// image is dropped and KeysOnly is set: the consumer re-reads the item from
// the source table with ConsistentRead (it sees that change or a newer one,
// and later messages of the same key bring it to the end state). This keeps
// large items replicated instead of parking them in a failure destination;
// the price is that the apply function needs read access to the source.
//
// For the apply end's rule set, an envelope also carries the old image
// (oldImage, on a NEW_AND_OLD_IMAGES stream) and whether a REMOVE is a TTL
// expiry (ttl); both are optional, so the version stays 1. A message too
// large drops the old image first (oldImageDropped) and only then the new
// image. A rule set that needs the dropped old image (a key rule on a
// MODIFY) fails that record, which then reaches the dead-letter queue.
//
// # Ordering
//
// The MessageGroupId is a hash of the item's key ([GroupID]), so one item's
// changes stay in order and different items are delivered in parallel. The
// [Publisher] sends a group's messages strictly one after the other: a
// message is published only after the previous one of its group succeeded,
// so a partial PublishBatch failure never lets a later change overtake an
// earlier one. The MessageDeduplicationId is the record's eventID: a
// republished record is dropped by SNS within its five-minute deduplication
// window, and the consumer's stale-write guard (dynamo.SeqGuard) skips it
// after that.
//
// # Deletes and tombstones
//
// Changes can come back long after they were applied: a dead-letter queue
// redrive up to 14 days after a message was first enqueued (SQS counts a
// dead-lettered message's retention from its first enqueue), or a stream
// record retried and republished, up to the stream's 24-hour retention,
// after the five-minute deduplication window. If a delete left nothing
// behind, such an older put would find no sequence number to lose against
// and recreate the item for good. So the guard writes a delete as a
// tombstone: the key, the sequence attribute, _ddbsync_deleted (BOOL true)
// and _ddbsync_expires (epoch seconds, now plus TOMBSTONE_RETENTION,
// default 15 days: 14 days of DLQ plus 1 day of stream), written under the
// same condition as a put, so an older delete is skipped and any change
// older than the tombstone is stale. A newer put replaces the tombstone
// whole. A keys-only message whose item is gone from the source is a
// delete and leaves a tombstone too. The attribute names are in package
// replattr and configurable (SEQ_ATTRIBUTE, TOMBSTONE_ATTRIBUTE,
// TOMBSTONE_TTL_ATTRIBUTE).
//
// Readers of the target must skip tombstones, with the filter
// attribute_not_exists(_ddbsync_deleted) or replattr.Names.Visible, and
// the target must have DynamoDB TTL enabled on the expiry attribute, which
// then removes tombstones some time after they expire. A table has one TTL
// attribute: if the target already uses one, set TOMBSTONE_TTL_ATTRIBUTE to
// its name. Keep TOMBSTONE_RETENTION above the dead-letter queue's
// retention plus a day.
//
// # Partial failures
//
// On the stream side, Publish reports failures like the table path: if any
// message of a key fails, the batch must be retried from that key's earliest
// record (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
// On the queue side, [Applier.Apply] reports failed SQS message ids; once a
// message of a group fails, every later message of that group in the batch
// fails too, as a FIFO queue requires
// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
//
// One topic carries the changes of one source table: sequence numbers of
// different tables are not comparable.
package queue
