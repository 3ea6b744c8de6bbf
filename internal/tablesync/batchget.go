package tablesync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/itemsize"
)

// maxBatchGet is the most keys one BatchGetItem call takes
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
const maxBatchGet = 100

// getter looks items up by key in one table with BatchGetItem.
type getter struct {
	api     TableReader
	table   string
	keys    keySchema
	limiter *rateLimiter // read units; may be nil
	retry   RetryOptions
}

// get returns the items found for keys (at most maxBatchGet, distinct), by
// key id. Keys answered in UnprocessedKeys are asked again with backoff
// until every key is answered; the attempts count only rounds in which
// nothing was answered.
func (g *getter) get(ctx context.Context, keys []Item, consistent bool) (map[string]Item, error) {
	return g.batchGet(ctx, keys, consistent, false)
}

// exists is get for the key attributes only (ProjectionExpression): the
// items found hold only their keys.
func (g *getter) exists(ctx context.Context, keys []Item) (map[string]Item, error) {
	return g.batchGet(ctx, keys, false, true)
}

func (g *getter) batchGet(ctx context.Context, keys []Item, consistent, keysOnly bool) (map[string]Item, error) {
	found := make(map[string]Item, len(keys))
	todo := keys
	for attempt := 1; len(todo) > 0; {
		req := types.KeysAndAttributes{Keys: todo, ConsistentRead: aws.Bool(consistent)}
		if keysOnly {
			proj, names := g.keys.projection()
			req.ProjectionExpression, req.ExpressionAttributeNames = aws.String(proj), names
		}
		in := &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{g.table: req}}
		if g.limiter != nil {
			in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
		}
		var out *dynamodb.BatchGetItemOutput
		err := dynamo.Retry(ctx, g.retry, func() (err error) {
			out, err = g.api.BatchGetItem(ctx, in)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("batch get item from %s: %w", g.table, err)
		}
		items := out.Responses[g.table]
		if err := g.limiter.wait(ctx, g.units(out, items, len(todo), consistent)); err != nil {
			return nil, err
		}
		for _, item := range items {
			id, err := g.keys.id(item)
			if err != nil {
				return nil, fmt.Errorf("batch get item from %s: %w", g.table, err)
			}
			found[id] = item
		}
		left := out.UnprocessedKeys[g.table].Keys
		if len(left) == 0 {
			return found, nil
		}
		if len(left) >= len(todo) { // no progress
			if g.retry.Exhausted(attempt) {
				return nil, fmt.Errorf("batch get item from %s: %w after %d attempts: %d keys unprocessed",
					g.table, dynamo.ErrRetriesExhausted, attempt, len(left))
			}
			attempt++
		}
		if err := g.retry.Wait(ctx, attempt); err != nil {
			return nil, fmt.Errorf("batch get item from %s: %w", g.table, err)
		}
		todo = left
	}
	return found, nil
}

// units is the read capacity of one BatchGetItem answer: as reported when
// the answer says, else estimated from the items' sizes, one unit (half
// when eventually consistent) for each key not found.
func (g *getter) units(out *dynamodb.BatchGetItemOutput, items []Item, asked int, consistent bool) float64 {
	if len(out.ConsumedCapacity) > 0 {
		total := 0.0
		for _, c := range out.ConsumedCapacity {
			total += aws.ToFloat64(c.CapacityUnits)
		}
		return total
	}
	sizes := make([]int, 0, asked)
	for _, item := range items {
		sizes = append(sizes, itemsize.Of(item))
	}
	left := len(out.UnprocessedKeys[g.table].Keys)
	for range max(asked-len(items)-left, 0) {
		sizes = append(sizes, 0)
	}
	return readUnits(sizes, consistent)
}
