package tablesync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Item is a DynamoDB item, or an item's key.
type Item = map[string]types.AttributeValue

// Scanner is the part of *dynamodb.Client that reads a whole table.
type Scanner interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// TableReader is the part of *dynamodb.Client that [Verify] calls on each
// table: a Scanner that can also look items up by key.
type TableReader interface {
	Scanner
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// ItemReader is the part of *dynamodb.Client that [Repairer] calls on the
// source: strongly consistent reads of one item.
type ItemReader interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// ItemWriter is the part of *dynamodb.Client that [Repairer] calls on the
// target: consistent reads and conditional single-item writes.
type ItemWriter interface {
	ItemReader
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var (
	_ TableReader = (*dynamodb.Client)(nil)
	_ ItemWriter  = (*dynamodb.Client)(nil)
)

// Errors returned (wrapped) by the package.
var (
	// ErrKeySchema is returned when the two tables' primary keys differ.
	ErrKeySchema = errors.New("key schemas differ")
	// ErrBadKey is returned for a key that lacks a key attribute or has
	// one of a type other than S, N or B.
	ErrBadKey = errors.New("malformed item key")
)

// tableInfo is what DescribeTable says about a table.
type tableInfo struct {
	name       string
	keys       keySchema
	keyTypes   []types.ScalarAttributeType // of keys, in their order
	itemCount  int64                       // approximate, updated by DynamoDB about every six hours
	streamOn   bool
	streamView types.StreamViewType
	streamARN  string
	arn        string
}

// describe reads a table's key schema, item count and stream settings.
func describe(ctx context.Context, api Scanner, name string) (tableInfo, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return tableInfo{}, fmt.Errorf("describe table %s: %w", name, err)
	}
	if out.Table == nil || len(out.Table.KeySchema) == 0 {
		return tableInfo{}, fmt.Errorf("describe table %s: no key schema", name)
	}
	return infoOf(name, out.Table), nil
}

// infoOf reads a table description.
func infoOf(name string, d *types.TableDescription) tableInfo {
	info := tableInfo{name: name, itemCount: aws.ToInt64(d.ItemCount), arn: aws.ToString(d.TableArn)}
	for _, k := range d.KeySchema {
		if k.KeyType == types.KeyTypeHash {
			info.keys = append(keySchema{aws.ToString(k.AttributeName)}, info.keys...)
		} else {
			info.keys = append(info.keys, aws.ToString(k.AttributeName))
		}
	}
	for _, name := range info.keys {
		var typ types.ScalarAttributeType
		for _, d := range d.AttributeDefinitions {
			if aws.ToString(d.AttributeName) == name {
				typ = d.AttributeType
			}
		}
		info.keyTypes = append(info.keyTypes, typ)
	}
	if s := d.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		info.streamOn, info.streamView = true, s.StreamViewType
		info.streamARN = aws.ToString(d.LatestStreamArn)
	}
	return info
}

// describePair describes both tables and checks that their primary keys
// have the same attribute names and types.
func describePair(ctx context.Context, src Scanner, srcTable string, dst Scanner, dstTable string) (tableInfo, tableInfo, error) {
	s, err := describe(ctx, src, srcTable)
	if err != nil {
		return s, tableInfo{}, err
	}
	d, err := describe(ctx, dst, dstTable)
	if err != nil {
		return s, d, err
	}
	if !s.export().SameKey(d.export()) {
		return s, d, fmt.Errorf("compare tables %s and %s: %w: %s and %s", srcTable, dstTable, ErrKeySchema, s.export().KeyString(), d.export().KeyString())
	}
	return s, d, nil
}

// keySchema names a table's key attributes, partition key first.
type keySchema []string

// key returns the key attributes of item.
func (k keySchema) key(item Item) Item {
	out := make(Item, len(k))
	for _, name := range k {
		if v, ok := item[name]; ok {
			out[name] = v
		}
	}
	return out
}

// projection returns a ProjectionExpression of the key attributes and
// extra, and its attribute names.
func (k keySchema) projection(extra ...string) (string, map[string]string) {
	names := make(map[string]string, len(k)+len(extra))
	refs := make([]string, 0, len(k)+len(extra))
	for i, name := range append(slices.Clip([]string(k)), extra...) {
		ref := "#k" + strconv.Itoa(i)
		names[ref] = name
		refs = append(refs, ref)
	}
	return strings.Join(refs, ", "), names
}

// id returns the canonical identity of item's key ([replicate.KeyID]).
func (k keySchema) id(item Item) (string, error) {
	key := k.key(item)
	id, ok := replicate.KeyID(key)
	if !ok || len(key) != len(k) {
		return "", fmt.Errorf("%w: want attributes %v of type S, N or B", ErrBadKey, []string(k))
	}
	return id, nil
}

// TableInfo is what DescribeTable says about a table.
type TableInfo struct {
	// Name is the table name.
	Name string
	// Keys names the key attributes, partition key first.
	Keys []string
	// KeyTypes are the key attributes' types (S, N or B), in Keys' order.
	KeyTypes []types.ScalarAttributeType
	// ItemCount is DynamoDB's approximate item count (refreshed about every
	// six hours).
	ItemCount int64
	// StreamEnabled and StreamViewType describe the table's stream.
	StreamEnabled  bool
	StreamViewType types.StreamViewType
	// StreamARN is the ARN of the table's latest stream, when it is enabled
	// ("" otherwise).
	StreamARN string
	// ARN is the table's ARN.
	ARN string
}

// StreamReady reports whether the table's stream carries the new images
// that the replicator needs.
func (t TableInfo) StreamReady() bool {
	return t.StreamEnabled && (t.StreamViewType == types.StreamViewTypeNewImage || t.StreamViewType == types.StreamViewTypeNewAndOldImages)
}

func (t tableInfo) export() TableInfo {
	return TableInfo{Name: t.name, Keys: t.keys, KeyTypes: t.keyTypes, ItemCount: t.itemCount, StreamEnabled: t.streamOn, StreamViewType: t.streamView, StreamARN: t.streamARN, ARN: t.arn}
}

// SameKey reports whether both tables have the same key attributes, of the
// same types.
func (t TableInfo) SameKey(o TableInfo) bool {
	return slices.Equal(t.Keys, o.Keys) && slices.Equal(t.KeyTypes, o.KeyTypes)
}

// KeyString describes the key, e.g. "[pk (S), sk (N)]".
func (t TableInfo) KeyString() string {
	parts := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		parts[i] = k
		if i < len(t.KeyTypes) && t.KeyTypes[i] != "" {
			parts[i] += " (" + string(t.KeyTypes[i]) + ")"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// InfoOf reads a table description, as DescribeTable returns it, the way
// [Describe] does, for a caller that made the call itself.
func InfoOf(name string, d *types.TableDescription) TableInfo {
	return infoOf(name, d).export()
}

// Describe reads a table's key schema, item count and stream settings.
func Describe(ctx context.Context, api Scanner, table string) (TableInfo, error) {
	info, err := describe(ctx, api, table)
	return info.export(), err
}
