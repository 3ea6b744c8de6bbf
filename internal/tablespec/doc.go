// Package tablespec derives a target table's definition from the source
// table's description and a rule set: what `ddbsync create-target`
// creates. It calls nothing; the command describes the source, calls
// Derive and sends the requests it returns.
//
// # What is copied
//
// The key schema (re-keyed and renamed by the rules: rules.RuleSet's
// TargetKeySchema and TargetKeyTypes), the billing mode and its capacities,
// the global and local secondary indexes with their key attributes and
// projected attributes renamed (an index whose key attribute the rules
// drop or change, or a local index whose partition key is no longer the
// table's, is left out with a warning naming it), the TTL attribute
// (renamed; enabled with UpdateTimeToLive once the table is ACTIVE),
// point-in-time recovery (UpdateContinuousBackups once ACTIVE), the tags
// (but the aws: ones, which only AWS sets), the table class and deletion
// protection. The stream is off unless asked for.
//
// # What is not
//
// A customer-managed KMS key: it may live in another account, and its key
// policy must allow the target's account, so the target is encrypted
// with the AWS managed key (aws/dynamodb) unless Options.KMSKeyID names
// one (--kms-key-id). Auto scaling, contributor insights, resource
// policies, Kinesis streaming destinations and global table replicas
// belong to other APIs and are not copied either.
//
// The DynamoDB API reference: CreateTable
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
package tablespec
