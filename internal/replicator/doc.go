// Package replicator assembles the replicator: the DynamoDB client (the
// SDK's retryer off, a connection pool sized for the writes in flight), the
// target dynamo.Table, the replicate.Replicator over it and the
// lambdahandler entry point, from one [Config] whose [Mode] says what the
// function does. The Lambda function (cmd/replicator) and `ddbsync run`'s
// in-process handler both build it with [New], so the two run the same
// stack.
//
// # Modes
//
// [ModeApply] applies DynamoDB Streams events to the target table (the
// direct path). [ModePublish] publishes them to an SNS FIFO topic, the head
// of the queue topology (package queue). [ModeQueue] applies the SQS events
// of envelopes at its other end, through the stale-write guard
// (dynamo.SeqGuard). Modes combine: the queue topology's apply function has
// the same environment as the direct function (TARGET_TABLE_NAME), so the
// Lambda function runs ModeApply|ModeQueue and its entry point tells the
// events apart by their eventSource; with both a table and a topic it also
// applies what it publishes.
package replicator
