package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key attributes of the workload's table: a string partition key and a
// number sort key.
const (
	PartitionKey = "pk"
	SortKey      = "sk"
)

// Defaults and limits for [Workload].
const (
	// DefaultKeys is the size of the keyspace.
	DefaultKeys = 200
	// DefaultConcurrency is how many writers run at once.
	DefaultConcurrency = 4
	// MaxConcurrency bounds Workload.Concurrency.
	MaxConcurrency = 32
	// sortKeysPerPartition spreads the keyspace over partition keys.
	sortKeysPerPartition = 4
	// maxBatchKeys is the most keys in one generated BatchWriteItem.
	maxBatchKeys = 10
	// maxUnprocessedRounds bounds the resends of UnprocessedItems.
	maxUnprocessedRounds = 10
)

// API is the part of *dynamodb.Client the workload calls.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Workload describes a random workload. Zero fields take the defaults.
type Workload struct {
	// Table is the table written to; its key is [PartitionKey] (S) and
	// [SortKey] (N).
	Table string
	// Keys is the number of distinct item keys (default DefaultKeys).
	Keys int
	// Seed makes the operations reproducible.
	Seed uint64
	// Concurrency is how many writers run at once (default
	// DefaultConcurrency, at most MaxConcurrency).
	Concurrency int
	// Progress, if set, is called after each operation with the number
	// done so far. It must be safe for concurrent use.
	Progress func(done int)
}

// Counts says what a run did.
type Counts struct {
	Puts, Updates, Deletes, BatchWrites int
	// BatchItems counts the requests inside the BatchWriteItem calls.
	BatchItems int
	// ConditionalFailures counts conditional puts refused because the item
	// existed (expected, not an error).
	ConditionalFailures int
}

// Total is the number of operations.
func (c Counts) Total() int { return c.Puts + c.Updates + c.Deletes + c.BatchWrites }

func (c Counts) String() string {
	return fmt.Sprintf("%d puts, %d updates, %d deletes, %d batch writes (%d items)",
		c.Puts, c.Updates, c.Deletes, c.BatchWrites, c.BatchItems)
}

// op is one generated operation.
type op struct {
	put    *dynamodb.PutItemInput
	update *dynamodb.UpdateItemInput
	delete *dynamodb.DeleteItemInput
	batch  *dynamodb.BatchWriteItemInput
}

// Run performs n operations on the table through api and returns what it
// did. It stops at the first error.
func (w Workload) Run(ctx context.Context, api API, n int) (Counts, error) {
	if w.Table == "" {
		return Counts{}, errors.New("run workload: no table")
	}
	if w.Keys <= 0 {
		w.Keys = DefaultKeys
	}
	if w.Concurrency <= 0 {
		w.Concurrency = DefaultConcurrency
	}
	w.Concurrency = min(w.Concurrency, MaxConcurrency)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	ops := make(chan op)
	var counts Counts
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Go(func() {
			for o := range ops {
				c, err := w.apply(ctx, api, o)
				if err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				counts.add(c)
				mu.Unlock()
				if d := done.Add(1); w.Progress != nil {
					w.Progress(int(d))
				}
			}
		})
	}
	gen := newGenerator(w.Table, w.Keys, w.Seed)
generate:
	for range n {
		select {
		case ops <- gen.next():
		case <-ctx.Done():
			break generate
		}
	}
	close(ops)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return counts, fmt.Errorf("run workload: %w", err)
	}
	return counts, nil
}

func (c *Counts) add(o Counts) {
	c.Puts += o.Puts
	c.Updates += o.Updates
	c.Deletes += o.Deletes
	c.BatchWrites += o.BatchWrites
	c.BatchItems += o.BatchItems
	c.ConditionalFailures += o.ConditionalFailures
}

// apply performs one operation.
func (w Workload) apply(ctx context.Context, api API, o op) (Counts, error) {
	switch {
	case o.put != nil:
		_, err := api.PutItem(ctx, o.put)
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return Counts{Puts: 1, ConditionalFailures: 1}, nil
		}
		if err != nil {
			return Counts{}, fmt.Errorf("put item: %w", err)
		}
		return Counts{Puts: 1}, nil
	case o.update != nil:
		if _, err := api.UpdateItem(ctx, o.update); err != nil {
			return Counts{}, fmt.Errorf("update item: %w", err)
		}
		return Counts{Updates: 1}, nil
	case o.delete != nil:
		if _, err := api.DeleteItem(ctx, o.delete); err != nil {
			return Counts{}, fmt.Errorf("delete item: %w", err)
		}
		return Counts{Deletes: 1}, nil
	}
	items := len(o.batch.RequestItems[w.Table])
	in := o.batch
	for round := 0; len(in.RequestItems) > 0; round++ {
		if round == maxUnprocessedRounds {
			return Counts{}, fmt.Errorf("batch write item: unprocessed items after %d rounds", round)
		}
		out, err := api.BatchWriteItem(ctx, in)
		if err != nil {
			return Counts{}, fmt.Errorf("batch write item: %w", err)
		}
		in = &dynamodb.BatchWriteItemInput{RequestItems: out.UnprocessedItems}
	}
	return Counts{BatchWrites: 1, BatchItems: items}, nil
}

// generator produces the seeded sequence of operations.
type generator struct {
	table string
	keys  int
	rng   *rand.Rand
	seq   int
}

func newGenerator(table string, keys int, seed uint64) *generator {
	return &generator{table: table, keys: keys, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// next returns the next operation: 35% puts, 35% updates, 15% deletes,
// 10% batch writes, 5% conditional puts.
func (g *generator) next() op {
	g.seq++
	switch p := g.rng.IntN(100); {
	case p < 35:
		return op{put: &dynamodb.PutItemInput{TableName: aws.String(g.table), Item: g.item(g.key())}}
	case p < 70:
		return op{update: g.updateInput()}
	case p < 85:
		return op{delete: &dynamodb.DeleteItemInput{TableName: aws.String(g.table), Key: g.key()}}
	case p < 95:
		return op{batch: g.batchInput()}
	default:
		return op{put: &dynamodb.PutItemInput{
			TableName:                aws.String(g.table),
			Item:                     g.item(g.key()),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": PartitionKey},
		}}
	}
}

// key returns a random key of the keyspace.
func (g *generator) key() map[string]types.AttributeValue {
	k := g.rng.IntN(g.keys)
	return map[string]types.AttributeValue{
		PartitionKey: &types.AttributeValueMemberS{Value: fmt.Sprintf("user#%04d", k/sortKeysPerPartition)},
		SortKey:      &types.AttributeValueMemberN{Value: strconv.Itoa(k % sortKeysPerPartition)},
	}
}

func (g *generator) batchInput() *dynamodb.BatchWriteItemInput {
	n := 2 + g.rng.IntN(maxBatchKeys-1)
	seen := map[string]bool{}
	var reqs []types.WriteRequest
	for range n {
		key := g.key()
		id := key[PartitionKey].(*types.AttributeValueMemberS).Value + "/" + key[SortKey].(*types.AttributeValueMemberN).Value
		if seen[id] { // DynamoDB rejects duplicate keys in one call
			continue
		}
		seen[id] = true
		if g.rng.IntN(4) == 0 {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
		} else {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: g.item(key)}})
		}
	}
	return &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{g.table: reqs}}
}

// updateInput returns an UpdateItem of a random key with a random mix of
// clauses. Updating a missing key creates it.
func (g *generator) updateInput() *dynamodb.UpdateItemInput {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var set, add, del, remove []string
	clause := func(name string) string {
		ph := "#" + name
		names[ph] = name
		return ph
	}
	set = append(set, clause("version")+" = if_not_exists("+clause("version")+", :zero) + :one")
	values[":zero"], values[":one"] = &types.AttributeValueMemberN{Value: "0"}, &types.AttributeValueMemberN{Value: "1"}
	if g.rng.IntN(2) == 0 {
		set = append(set, clause("name")+" = :name")
		values[":name"] = &types.AttributeValueMemberS{Value: g.word()}
	}
	if g.rng.IntN(2) == 0 {
		add = append(add, clause("balance")+" :delta") // decimal arithmetic in DynamoDB
		values[":delta"] = &types.AttributeValueMemberN{Value: g.pick("0.1", "0.2", "-0.3", "1.05", "-12345678901234567890.5", "0.000001")}
	}
	if g.rng.IntN(3) == 0 {
		add = append(add, clause("tags")+" :addtags")
		values[":addtags"] = &types.AttributeValueMemberSS{Value: g.words(1 + g.rng.IntN(2))}
	}
	if g.rng.IntN(3) == 0 {
		del = append(del, clause("scores")+" :delscores")
		values[":delscores"] = &types.AttributeValueMemberNS{Value: g.numberSet()}
	}
	if g.rng.IntN(3) == 0 {
		set = append(set, clause("history")+" = list_append(if_not_exists("+clause("history")+", :empty), :entry)")
		values[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		values[":entry"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{g.historyEntry()}}
	}
	if g.rng.IntN(4) == 0 {
		set = append(set, clause("profile")+" = :profile")
		values[":profile"] = g.profile()
	}
	if g.rng.IntN(4) == 0 {
		remove = append(remove, clause(g.pick("avatar", "deletedAt", "blobs", "active")))
	}
	var expr []string
	for _, part := range []struct {
		verb    string
		clauses []string
	}{{"SET", set}, {"ADD", add}, {"DELETE", del}, {"REMOVE", remove}} {
		if len(part.clauses) > 0 {
			expr = append(expr, part.verb+" "+strings.Join(part.clauses, ", "))
		}
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(g.table),
		Key:                       g.key(),
		UpdateExpression:          aws.String(strings.Join(expr, " ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}
