package tablespec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/rules"
)

// Source is what DynamoDB says of the source table.
type Source struct {
	// Table is DescribeTable's Table.
	Table *types.TableDescription
	// TTL is DescribeTimeToLive's description (nil: none).
	TTL *types.TimeToLiveDescription
	// PITR is DescribeContinuousBackups' point-in-time recovery (nil: off).
	PITR *types.PointInTimeRecoveryDescription
	// Tags are ListTagsOfResource's tags.
	Tags []types.Tag
}

// Options say what to create.
type Options struct {
	// TargetTable is the name of the table to create.
	TargetTable string
	// Rules re-key, rename and drop attributes (nil: none).
	Rules *rules.RuleSet
	// KeyTypes give the types of target key attributes the rules do not
	// tell (--key-type NAME=S|N|B); they win over the derived ones.
	KeyTypes map[string]types.ScalarAttributeType
	// Stream is the target's stream view type ("": no stream).
	Stream types.StreamViewType
	// KMSKeyID is the KMS key to encrypt the target with ("": the
	// source's kind of encryption, with the AWS managed key for KMS).
	KMSKeyID string
}

// Spec is the target table to create and the calls that follow.
type Spec struct {
	// Create is the CreateTable request.
	Create *dynamodb.CreateTableInput
	// TTL enables TTL once the table is ACTIVE (nil: no TTL).
	TTL *dynamodb.UpdateTimeToLiveInput
	// PITR enables point-in-time recovery once ACTIVE (nil: off).
	PITR *dynamodb.UpdateContinuousBackupsInput
	// Warnings say what is not copied as it is, and why.
	Warnings []string
}

// Derive returns the target table's definition from the source's. An
// error is a key the target cannot have (rules.ErrKeyType: give its type).
func Derive(src Source, opts Options) (Spec, error) {
	t := src.Table
	if t == nil {
		return Spec{}, fmt.Errorf("derive %s: no source table description", opts.TargetTable)
	}
	rs := opts.Rules
	if rs == nil {
		var err error
		if rs, err = rules.Parse("no rules", nil); err != nil {
			return Spec{}, err
		}
	}
	srcTypes := map[string]types.ScalarAttributeType{}
	for _, d := range t.AttributeDefinitions {
		srcTypes[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	srcKey := map[string]types.ScalarAttributeType{}
	for _, e := range t.KeySchema {
		n := aws.ToString(e.AttributeName)
		if _, ok := srcTypes[n]; !ok {
			return Spec{}, fmt.Errorf("derive %s: source key attribute %s has no attribute definition", opts.TargetTable, n)
		}
		srcKey[n] = srcTypes[n]
	}
	keySchema := rs.TargetKeySchema(t.KeySchema)
	keyTypes, err := rs.TargetKeyTypes(srcKey, opts.KeyTypes)
	if err != nil {
		return Spec{}, fmt.Errorf("derive the key of %s: %w", opts.TargetTable, err)
	}
	d := deriver{rs: rs, srcTypes: srcTypes, defs: map[string]types.ScalarAttributeType{}}
	for n, typ := range keyTypes {
		d.defs[n] = typ
	}
	in := &dynamodb.CreateTableInput{
		TableName:                 aws.String(opts.TargetTable),
		KeySchema:                 keySchema,
		DeletionProtectionEnabled: t.DeletionProtectionEnabled,
	}
	provisioned := billingMode(t) == types.BillingModeProvisioned
	if provisioned {
		in.BillingMode = types.BillingModeProvisioned
		in.ProvisionedThroughput = throughput(t.ProvisionedThroughput)
	} else {
		in.BillingMode = types.BillingModePayPerRequest
		in.OnDemandThroughput = onDemand(t.OnDemandThroughput)
	}
	hash := ""
	for _, e := range keySchema {
		if e.KeyType == types.KeyTypeHash {
			hash = aws.ToString(e.AttributeName)
		}
	}
	for _, g := range t.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		keys, ok := d.indexKeys("global secondary index", name, g.KeySchema, "")
		if !ok {
			continue
		}
		gsi := types.GlobalSecondaryIndex{IndexName: g.IndexName, KeySchema: keys, Projection: d.projection(name, g.Projection)}
		if provisioned {
			gsi.ProvisionedThroughput = throughput(g.ProvisionedThroughput)
		} else {
			gsi.OnDemandThroughput = onDemand(g.OnDemandThroughput)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for _, l := range t.LocalSecondaryIndexes {
		name := aws.ToString(l.IndexName)
		keys, ok := d.indexKeys("local secondary index", name, l.KeySchema, hash)
		if !ok {
			continue
		}
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes,
			types.LocalSecondaryIndex{IndexName: l.IndexName, KeySchema: keys, Projection: d.projection(name, l.Projection)})
	}
	names := make([]string, 0, len(d.defs))
	for n := range d.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: d.defs[n]})
	}
	if opts.Stream != "" {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: opts.Stream}
	}
	if t.TableClassSummary != nil && t.TableClassSummary.TableClass != "" {
		in.TableClass = t.TableClassSummary.TableClass
	}
	in.SSESpecification = d.encryption(t.SSEDescription, opts)
	for _, tag := range src.Tags {
		if strings.HasPrefix(aws.ToString(tag.Key), "aws:") {
			continue // only AWS sets these
		}
		in.Tags = append(in.Tags, tag)
	}
	spec := Spec{Create: in}
	if ttl := src.TTL; ttl != nil && (ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		attr := aws.ToString(ttl.AttributeName)
		if to, ok := rs.TargetAttribute(attr); ok {
			spec.TTL = &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(opts.TargetTable),
				TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(to), Enabled: aws.Bool(true)}}
		} else {
			d.warn("TTL not enabled: the rules drop or change the source's TTL attribute %s", attr)
		}
	}
	if p := src.PITR; p != nil && p.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled {
		spec.PITR = &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(opts.TargetTable),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true),
				RecoveryPeriodInDays: p.RecoveryPeriodInDays}}
	}
	spec.Warnings = d.warnings
	return spec, nil
}

// deriver collects the attribute definitions and warnings of Derive.
type deriver struct {
	rs       *rules.RuleSet
	srcTypes map[string]types.ScalarAttributeType
	defs     map[string]types.ScalarAttributeType
	warnings []string
}

func (d *deriver) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// indexKeys renames an index's key schema, or warns and returns false if
// the index cannot be kept: a key attribute the rules drop or change, one
// whose type clashes with another definition, or (hash != "", a local
// index) a partition key other than the table's.
func (d *deriver) indexKeys(kind, name string, ks []types.KeySchemaElement, hash string) ([]types.KeySchemaElement, bool) {
	var out []types.KeySchemaElement
	defs := map[string]types.ScalarAttributeType{}
	for _, e := range ks {
		from := aws.ToString(e.AttributeName)
		to, ok := d.rs.TargetAttribute(from)
		if !ok {
			d.warn("%s %s left out: the rules drop or change its key attribute %s", kind, name, from)
			return nil, false
		}
		typ := d.srcTypes[from]
		if have, ok := d.defs[to]; ok && have != typ {
			d.warn("%s %s left out: its key attribute %s (%s) would be %s, which the target's key has as %s", kind, name, from, typ, to, have)
			return nil, false
		}
		if hash != "" && e.KeyType == types.KeyTypeHash && to != hash {
			d.warn("%s %s left out: its partition key %s is not the target table's partition key %s (a local index shares the table's)", kind, name, to, hash)
			return nil, false
		}
		defs[to] = typ
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(to), KeyType: e.KeyType})
	}
	for n, typ := range defs {
		d.defs[n] = typ
	}
	return out, true
}

// projection renames an index's projected non-key attributes, leaving
// out (with a warning) those the rules drop or change.
func (d *deriver) projection(index string, p *types.Projection) *types.Projection {
	if p == nil {
		return &types.Projection{ProjectionType: types.ProjectionTypeAll}
	}
	out := &types.Projection{ProjectionType: p.ProjectionType}
	if p.ProjectionType != types.ProjectionTypeInclude {
		return out
	}
	for _, a := range p.NonKeyAttributes {
		to, ok := d.rs.TargetAttribute(a)
		if !ok {
			d.warn("index %s: projected attribute %s left out (the rules drop or change it)", index, a)
			continue
		}
		out.NonKeyAttributes = append(out.NonKeyAttributes, to)
	}
	if len(out.NonKeyAttributes) == 0 {
		d.warn("index %s: no projected attribute is left, so it projects KEYS_ONLY", index)
		out.ProjectionType = types.ProjectionTypeKeysOnly
	}
	return out
}

// encryption returns the target's SSE: with opts.KMSKeyID that key; a
// source encrypted with KMS gets the AWS managed key, with a warning
// when the source's key may be customer managed; else none (the AWS
// owned key, DynamoDB's default).
func (d *deriver) encryption(sse *types.SSEDescription, opts Options) *types.SSESpecification {
	if opts.KMSKeyID != "" {
		return &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms, KMSMasterKeyId: aws.String(opts.KMSKeyID)}
	}
	if sse == nil || sse.SSEType != types.SSETypeKms {
		return nil
	}
	if k := aws.ToString(sse.KMSMasterKeyArn); k != "" {
		d.warn("the source is encrypted with the KMS key %s, which is not copied (a customer-managed key may be in another account "+
			"and its key policy must allow the target's): the target gets the AWS managed key aws/dynamodb; pass --kms-key-id KEY "+
			"for a key of your own", k)
	}
	return &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms}
}

// billingMode is the source's billing mode: its summary's, else
// PROVISIONED when it has capacities (DynamoDB Local, tables created
// before on-demand existed), else PAY_PER_REQUEST.
func billingMode(t *types.TableDescription) types.BillingMode {
	if t.BillingModeSummary != nil && t.BillingModeSummary.BillingMode != "" {
		return t.BillingModeSummary.BillingMode
	}
	if p := t.ProvisionedThroughput; p != nil && aws.ToInt64(p.ReadCapacityUnits) > 0 {
		return types.BillingModeProvisioned
	}
	return types.BillingModePayPerRequest
}

// throughput copies provisioned capacities (at least 1 each, as
// CreateTable requires).
func throughput(p *types.ProvisionedThroughputDescription) *types.ProvisionedThroughput {
	r, w := int64(1), int64(1)
	if p != nil {
		r, w = max(aws.ToInt64(p.ReadCapacityUnits), 1), max(aws.ToInt64(p.WriteCapacityUnits), 1)
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(r), WriteCapacityUnits: aws.Int64(w)}
}

// onDemand copies on-demand maximum throughput, if any is set.
func onDemand(o *types.OnDemandThroughput) *types.OnDemandThroughput {
	if o == nil || (aws.ToInt64(o.MaxReadRequestUnits) <= 0 && aws.ToInt64(o.MaxWriteRequestUnits) <= 0) {
		return nil
	}
	return &types.OnDemandThroughput{MaxReadRequestUnits: o.MaxReadRequestUnits, MaxWriteRequestUnits: o.MaxWriteRequestUnits}
}
