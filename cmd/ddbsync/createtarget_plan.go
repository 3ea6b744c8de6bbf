package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/tablespec"
)

// describeSpec says in plan lines what create-target will create: the
// key schema, indexes, billing, TTL, stream, point-in-time recovery, tags,
// table class, deletion protection and encryption.
func describeSpec(spec tablespec.Spec) []string {
	in := spec.Create
	defs := map[string]types.ScalarAttributeType{}
	for _, d := range in.AttributeDefinitions {
		defs[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	lines := []string{fmt.Sprintf("create table %s, key %s", aws.ToString(in.TableName), keyString(in.KeySchema, defs))}
	for _, g := range in.GlobalSecondaryIndexes {
		lines = append(lines, fmt.Sprintf("global secondary index %s, key %s, projecting %s%s", aws.ToString(g.IndexName),
			keyString(g.KeySchema, defs), projectionString(g.Projection), capacityString(g.ProvisionedThroughput)))
	}
	for _, l := range in.LocalSecondaryIndexes {
		lines = append(lines, fmt.Sprintf("local secondary index %s, key %s, projecting %s", aws.ToString(l.IndexName),
			keyString(l.KeySchema, defs), projectionString(l.Projection)))
	}
	if len(in.GlobalSecondaryIndexes)+len(in.LocalSecondaryIndexes) == 0 {
		lines = append(lines, "no secondary indexes")
	}
	if in.BillingMode == "PROVISIONED" {
		lines = append(lines, "billing PROVISIONED"+capacityString(in.ProvisionedThroughput))
	} else {
		lines = append(lines, "billing PAY_PER_REQUEST (on demand)")
	}
	if spec.TTL != nil {
		lines = append(lines, "TTL on attribute "+aws.ToString(spec.TTL.TimeToLiveSpecification.AttributeName)+" (UpdateTimeToLive once the table is ACTIVE)")
	} else {
		lines = append(lines, "TTL off")
	}
	if s := in.StreamSpecification; s != nil {
		lines = append(lines, "stream "+string(s.StreamViewType))
	} else {
		lines = append(lines, "stream off (--stream VIEW for one)")
	}
	if spec.PITR != nil {
		lines = append(lines, "point-in-time recovery on (UpdateContinuousBackups once the table is ACTIVE)")
	} else {
		lines = append(lines, "point-in-time recovery off")
	}
	tags := make([]string, 0, len(in.Tags))
	for _, t := range in.Tags {
		tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	if len(tags) == 0 {
		tags = append(tags, "none")
	}
	lines = append(lines, "tags "+strings.Join(tags, ", "))
	class := "STANDARD"
	if in.TableClass != "" {
		class = string(in.TableClass)
	}
	protection := "off"
	if aws.ToBool(in.DeletionProtectionEnabled) {
		protection = "on"
	}
	lines = append(lines, "table class "+class+", deletion protection "+protection)
	switch sse := in.SSESpecification; {
	case sse == nil:
		lines = append(lines, "encryption with the AWS owned key (DynamoDB's default)")
	case sse.KMSMasterKeyId != nil:
		lines = append(lines, "encryption with the KMS key "+aws.ToString(sse.KMSMasterKeyId))
	default:
		lines = append(lines, "encryption with the AWS managed KMS key aws/dynamodb")
	}
	return lines
}

// keyString writes a key schema as "pk (S, partition), sk (N, sort)".
func keyString(ks []types.KeySchemaElement, defs map[string]types.ScalarAttributeType) string {
	parts := make([]string, 0, len(ks))
	for _, e := range ks {
		role := "partition"
		if e.KeyType == types.KeyTypeRange {
			role = "sort"
		}
		n := aws.ToString(e.AttributeName)
		parts = append(parts, fmt.Sprintf("%s (%s, %s)", n, defs[n], role))
	}
	return strings.Join(parts, ", ")
}

func projectionString(p *types.Projection) string {
	if p == nil {
		return "ALL"
	}
	if p.ProjectionType == types.ProjectionTypeInclude {
		return "INCLUDE " + strings.Join(p.NonKeyAttributes, ", ")
	}
	return string(p.ProjectionType)
}

func capacityString(p *types.ProvisionedThroughput) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf(", %d read and %d write capacity units", aws.ToInt64(p.ReadCapacityUnits), aws.ToInt64(p.WriteCapacityUnits))
}
