// Package dynamotest provides MemTable, an in-memory DynamoDB table behind
// the item-write API that dynamo.Table, dynamo.SeqGuard and
// tablesync.Repairer call (dynamo.API, tablesync.ItemWriter), and the
// contract suite ([RunAPIContract]) that holds it and DynamoDB Local to the
// same behaviour.
package dynamotest

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// Item is a DynamoDB item, or an item's key.
type Item = map[string]types.AttributeValue

// API is the part of *dynamodb.Client that MemTable implements: the union
// of dynamo.API and tablesync.ItemWriter.
type API interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var (
	_ API = (*MemTable)(nil)
	_ API = (*dynamodb.Client)(nil)
)

// maxBatchWrite is BatchWriteItem's limit of requests per call.
const maxBatchWrite = 25

// Operation names, as Inject and Calls see them.
const (
	OpBatchWriteItem = "BatchWriteItem"
	OpPutItem        = "PutItem"
	OpDeleteItem     = "DeleteItem"
	OpGetItem        = "GetItem"
)

// MemTable is an in-memory DynamoDB table with the semantics callers rely
// on, checked against DynamoDB Local by [RunAPIContract]:
//
//   - items are stored by key, key numbers in any spelling being one key;
//   - BatchWriteItem takes at most 25 requests with distinct keys, else the
//     whole call is a ValidationException;
//   - PutItem and DeleteItem evaluate condition expressions of the forms
//     ddbsync writes: attribute_exists, attribute_not_exists, =, <>, <,
//     <=, >, >= joined by AND and OR, comparing numbers as numbers and sets
//     as sets; a false condition is a ConditionalCheckFailedException, an
//     unknown form, a missing or unused placeholder a ValidationException;
//   - a put DynamoDB refuses (replicatetest.ValidateItem: no key, an empty
//     set, a number of 39 digits, more than 400 KB, ...) is a
//     ValidationException.
//
// Inject fails calls for retry tests. A MemTable serves one table; calls
// naming another fail with ResourceNotFoundException.
type MemTable struct {
	name string
	keys []string

	mu    sync.Mutex
	items map[string]Item
	calls map[string]int
	conds []string

	// Inject, if set, is called before each call with its operation
	// (OpPutItem, ...) and that operation's call number (from 1); a non-nil
	// error fails the call, which then changes nothing.
	Inject func(op string, call int) error
	// RequireConsistentRead makes a GetItem without ConsistentRead fail.
	RequireConsistentRead bool
}

// NewMemTable returns an empty table called name whose key attributes are
// keys (partition key first).
func NewMemTable(name string, keys ...string) *MemTable {
	return &MemTable{name: name, keys: keys, items: map[string]Item{}, calls: map[string]int{}}
}

// Load stores items as they are, without calls or conditions.
func (m *MemTable) Load(items ...Item) *MemTable {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		id, err := m.keyID(it)
		if err != nil {
			panic(err)
		}
		m.items[id] = it
	}
	return m
}

// Get returns the item stored under key, nil if none.
func (m *MemTable) Get(key Item) Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, err := m.keyID(key)
	if err != nil {
		return nil
	}
	return m.items[id]
}

// Items returns every item, in no particular order.
func (m *MemTable) Items() []Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Item, 0, len(m.items))
	ids := make([]string, 0, len(m.items))
	for id := range m.items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, m.items[id])
	}
	return out
}

// Calls returns how many calls of op were made, failed ones included.
func (m *MemTable) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// Conditions returns the condition expression of every PutItem and
// DeleteItem call ("" for none), in call order.
func (m *MemTable) Conditions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.conds...)
}

// begin counts a call of op on table and runs Inject; m.mu is held.
func (m *MemTable) begin(op string, table *string) error {
	m.calls[op]++
	if m.Inject != nil {
		if err := m.Inject(op, m.calls[op]); err != nil {
			return err
		}
	}
	if aws.ToString(table) != m.name {
		return apiError("ResourceNotFoundException", "Requested resource not found")
	}
	return nil
}

// BatchWriteItem implements dynamo.API.
func (m *MemTable) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[OpBatchWriteItem]++
	if m.Inject != nil {
		if err := m.Inject(OpBatchWriteItem, m.calls[OpBatchWriteItem]); err != nil {
			return nil, err
		}
	}
	n := 0
	for table, reqs := range in.RequestItems {
		if table != m.name {
			return nil, apiError("ResourceNotFoundException", "Requested resource not found")
		}
		n += len(reqs)
	}
	if n == 0 || n > maxBatchWrite {
		return nil, validation("Too many items requested for the BatchWriteItem call")
	}
	type op struct {
		id   string
		item Item // nil: delete
	}
	var ops []op
	seen := map[string]bool{}
	for _, r := range in.RequestItems[m.name] {
		var o op
		var err error
		switch {
		case r.PutRequest != nil:
			o.item = r.PutRequest.Item
			if err = m.checkItem(o.item); err == nil {
				o.id, err = m.keyID(o.item)
			}
		case r.DeleteRequest != nil:
			o.id, err = m.exactKeyID(r.DeleteRequest.Key)
		default:
			err = validation("a WriteRequest needs a PutRequest or a DeleteRequest")
		}
		if err != nil {
			return nil, err
		}
		if seen[o.id] {
			return nil, validation("Provided list of item keys contains duplicates")
		}
		seen[o.id] = true
		ops = append(ops, o)
	}
	for _, o := range ops {
		if o.item == nil {
			delete(m.items, o.id)
		} else {
			m.items[o.id] = o.item
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

// PutItem implements dynamo.API.
func (m *MemTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conds = append(m.conds, aws.ToString(in.ConditionExpression))
	if err := m.begin(OpPutItem, in.TableName); err != nil {
		return nil, err
	}
	if err := m.checkItem(in.Item); err != nil {
		return nil, err
	}
	id, err := m.keyID(in.Item)
	if err != nil {
		return nil, err
	}
	old := m.items[id]
	if err := checkCondition(in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, old); err != nil {
		return nil, err
	}
	m.items[id] = in.Item
	out := &dynamodb.PutItemOutput{}
	if in.ReturnValues == types.ReturnValueAllOld {
		out.Attributes = old
	}
	return out, nil
}

// DeleteItem implements dynamo.API.
func (m *MemTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conds = append(m.conds, aws.ToString(in.ConditionExpression))
	if err := m.begin(OpDeleteItem, in.TableName); err != nil {
		return nil, err
	}
	id, err := m.exactKeyID(in.Key)
	if err != nil {
		return nil, err
	}
	old := m.items[id]
	if err := checkCondition(in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, old); err != nil {
		return nil, err
	}
	delete(m.items, id)
	out := &dynamodb.DeleteItemOutput{}
	if in.ReturnValues == types.ReturnValueAllOld {
		out.Attributes = old
	}
	return out, nil
}

// GetItem implements tablesync.ItemReader.
func (m *MemTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(OpGetItem, in.TableName); err != nil {
		return nil, err
	}
	if m.RequireConsistentRead && !aws.ToBool(in.ConsistentRead) {
		return nil, apiError("WantConsistentRead", "the test wants strongly consistent reads")
	}
	id, err := m.exactKeyID(in.Key)
	if err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: m.items[id]}, nil
}

// keyID returns the identity of item's key: its key attributes' KeyID with
// every number in one spelling, as DynamoDB compares key numbers.
func (m *MemTable) keyID(item Item) (string, error) {
	key := make(Item, len(m.keys))
	for _, name := range m.keys {
		v, ok := item[name]
		if !ok {
			return "", validation("One of the required keys was not given a value")
		}
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			v = &types.AttributeValueMemberN{Value: canonicalNumber(n.Value)}
		}
		key[name] = v
	}
	id, ok := replicate.KeyID(key)
	if !ok {
		return "", validation("One or more parameter values were invalid: a key attribute is not of type S, N or B")
	}
	return id, nil
}

// exactKeyID is keyID for a key, which must hold the key attributes only.
func (m *MemTable) exactKeyID(key Item) (string, error) {
	if len(key) != len(m.keys) {
		return "", validation("The provided key element does not match the schema")
	}
	if err := m.checkItem(key); err != nil {
		return "", err
	}
	return m.keyID(key)
}

// checkItem refuses what DynamoDB refuses in a put (or, for a key, a
// delete or get): see replicatetest.ValidateItem.
func (m *MemTable) checkItem(item Item) error { return replicatetest.ValidateItem(item, m.keys...) }

// canonicalNumber returns one spelling of a DynamoDB number.
func canonicalNumber(s string) string {
	if r, ok := new(big.Rat).SetString(s); ok {
		return r.RatString()
	}
	return s
}

func apiError(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func validation(format string, args ...any) error {
	return apiError("ValidationException", fmt.Sprintf(format, args...))
}
