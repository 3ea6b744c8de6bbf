package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/demo"
)

// Workload limits.
const (
	maxBatchWrites = 25 // BatchWriteItem's limit
	keysPerPK      = 4  // sort keys per partition key
)

// workload is a seeded random workload on a table keyed like demoTable,
// counted in item writes: BatchWriteItem calls of 2 to 25 distinct keys
// (80% puts, 20% deletes; 72% of the calls) and single UpdateItem (SET,
// ADD, DELETE from sets, REMOVE; 20%), PutItem and DeleteItem calls. Most
// writes go in batches because DynamoDB Local takes a few milliseconds per
// call: demo.Workload, which makes one call per operation, needs about
// 100 s for 10,000 operations here.
type workload struct {
	table       string
	keys        int
	seed        uint64
	concurrency int
}

// workloadCounts says what a run did.
type workloadCounts struct {
	Puts, Updates, Deletes int
	BatchCalls, Calls      int
}

// Total is the number of item writes.
func (c workloadCounts) Total() int { return c.Puts + c.Updates + c.Deletes }

func (c workloadCounts) String() string {
	return fmt.Sprintf("%d writes (%d puts, %d updates, %d deletes) in %d calls (%d BatchWriteItem)",
		c.Total(), c.Puts, c.Updates, c.Deletes, c.Calls, c.BatchCalls)
}

// call is one generated request and what it counts for.
type call struct {
	batch  *dynamodb.BatchWriteItemInput
	put    *dynamodb.PutItemInput
	update *dynamodb.UpdateItemInput
	delete *dynamodb.DeleteItemInput
	counts workloadCounts
}

// run performs exactly ops item writes through db and stops at the first
// error. The calls are generated in a seeded order and sent by
// w.concurrency writers, so their order on the table varies: compare the
// target with the source, not with a computed state.
func (w workload) run(ctx context.Context, db *dynamodb.Client, ops int) (workloadCounts, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	calls := make(chan call)
	var mu sync.Mutex
	var total workloadCounts
	var wg sync.WaitGroup
	for range max(w.concurrency, 1) {
		wg.Go(func() {
			for c := range calls {
				if err := apply(ctx, db, c); err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				total.Puts += c.counts.Puts
				total.Updates += c.counts.Updates
				total.Deletes += c.counts.Deletes
				total.BatchCalls += c.counts.BatchCalls
				total.Calls++
				mu.Unlock()
			}
		})
	}
	g := &generator{w: w, rng: rand.New(rand.NewPCG(w.seed, 0x5eed))}
generate:
	for left := ops; left > 0; {
		c := g.next(left)
		left -= c.counts.Total()
		select {
		case calls <- c:
		case <-ctx.Done():
			break generate
		}
	}
	close(calls)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return total, fmt.Errorf("run workload: %w", err)
	}
	return total, nil
}

func apply(ctx context.Context, db *dynamodb.Client, c call) error {
	var err error
	switch {
	case c.batch != nil:
		in := c.batch
		for round := 0; len(in.RequestItems) > 0; round++ {
			if round == 10 {
				return fmt.Errorf("batch write item: still unprocessed after %d rounds", round)
			}
			var out *dynamodb.BatchWriteItemOutput
			if out, err = db.BatchWriteItem(ctx, in); err != nil {
				break
			}
			in = &dynamodb.BatchWriteItemInput{RequestItems: out.UnprocessedItems}
		}
	case c.put != nil:
		_, err = db.PutItem(ctx, c.put)
	case c.update != nil:
		_, err = db.UpdateItem(ctx, c.update)
	case c.delete != nil:
		_, err = db.DeleteItem(ctx, c.delete)
	}
	return err
}

// generator makes the workload's calls.
type generator struct {
	w   workload
	rng *rand.Rand
	seq int
}

// next returns a call of at most left writes.
func (g *generator) next(left int) call {
	g.seq++
	table := aws.String(g.w.table)
	switch p := g.rng.IntN(100); {
	case p < 20 || left < 2:
		return call{update: g.update(), counts: workloadCounts{Updates: 1}}
	case p < 24:
		return call{put: &dynamodb.PutItemInput{TableName: table, Item: g.item(g.key())}, counts: workloadCounts{Puts: 1}}
	case p < 28:
		return call{delete: &dynamodb.DeleteItemInput{TableName: table, Key: g.key()}, counts: workloadCounts{Deletes: 1}}
	}
	n := min(2+g.rng.IntN(maxBatchWrites-1), left)
	c := call{counts: workloadCounts{BatchCalls: 1}}
	seen := map[string]bool{}
	var reqs []types.WriteRequest
	for len(reqs) < n {
		key := g.key()
		id := keyString(key)
		if seen[id] { // DynamoDB rejects duplicate keys in one call
			continue
		}
		seen[id] = true
		if g.rng.IntN(5) == 0 {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
			c.counts.Deletes++
		} else {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: g.item(key)}})
			c.counts.Puts++
		}
	}
	c.batch = &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{g.w.table: reqs}}
	return c
}

func keyString(key map[string]types.AttributeValue) string {
	return key[demo.PartitionKey].(*types.AttributeValueMemberS).Value + "/" + key[demo.SortKey].(*types.AttributeValueMemberN).Value
}

func (g *generator) key() map[string]types.AttributeValue {
	k := g.rng.IntN(g.w.keys)
	return map[string]types.AttributeValue{
		demo.PartitionKey: &types.AttributeValueMemberS{Value: fmt.Sprintf("user#%05d", k/keysPerPK)},
		demo.SortKey:      &types.AttributeValueMemberN{Value: strconv.Itoa(k % keysPerPK)},
	}
}

// numbers a float64 would change, and spellings DynamoDB normalises.
var numbers = []string{"0", "-1", "1.50", "12345678901234567890.123456789", "1E-130", "9.99E+125", "0.1", "-3.14159265358979323846264338327950288"}

// increments keep ADD and SET arithmetic within DynamoDB's 38 digits.
var increments = []string{"1.5", "-2", "0.25", "10", "1E+2"}

var words = []string{"alpha", "bravo", "Zoë", "東京", "emoji 🚀", "", "with \"quotes\"", "tab\tand\nnewline"}

// item returns a whole item with all ten attribute types.
func (g *generator) item(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	n := func() types.AttributeValue {
		return &types.AttributeValueMemberN{Value: numbers[g.rng.IntN(len(numbers))]}
	}
	s := func() types.AttributeValue { return &types.AttributeValueMemberS{Value: words[g.rng.IntN(len(words))]} }
	blob := make([]byte, g.rng.IntN(24))
	for i := range blob {
		blob[i] = byte(g.rng.IntN(256))
	}
	return map[string]types.AttributeValue{
		demo.PartitionKey: key[demo.PartitionKey],
		demo.SortKey:      key[demo.SortKey],
		"seq":             &types.AttributeValueMemberN{Value: strconv.Itoa(g.seq)},
		"name":            s(),
		"amount":          n(),
		"blob":            &types.AttributeValueMemberB{Value: blob},
		"active":          &types.AttributeValueMemberBOOL{Value: g.rng.IntN(2) == 0},
		"deletedAt":       &types.AttributeValueMemberNULL{Value: true},
		"tags":            &types.AttributeValueMemberSS{Value: []string{"t" + strconv.Itoa(g.rng.IntN(3)), "u" + strconv.Itoa(g.rng.IntN(3))}},
		"scores":          &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(g.rng.IntN(100)), "1E+3"}},
		"bins":            &types.AttributeValueMemberBS{Value: [][]byte{{0, byte(g.rng.IntN(256))}, {255}}},
		"doc": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{n(), s(), &types.AttributeValueMemberNULL{Value: true}}},
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ok": &types.AttributeValueMemberBOOL{Value: true}}},
		}},
	}
}

// update returns an UpdateItem of a random key (creating it if missing)
// with decimal arithmetic, set additions and removals.
func (g *generator) update() *dynamodb.UpdateItemInput {
	exprs := []string{
		"SET #name = :s, #seq = :seq ADD hits :one",
		"SET #counter = if_not_exists(#counter, :zero) + :n, #seq = :seq",
		"ADD scores :ns SET #seq = :seq",
		"DELETE tags :tags SET #seq = :seq",
		"REMOVE active, deletedAt SET #seq = :seq",
	}
	expr := exprs[g.rng.IntN(len(exprs))]
	values := map[string]types.AttributeValue{":seq": &types.AttributeValueMemberN{Value: strconv.Itoa(g.seq)}}
	names := map[string]string{"#seq": "seq"}
	add := func(name string, v types.AttributeValue) { values[name] = v }
	switch expr {
	case exprs[0]:
		names["#name"] = "name"
		add(":s", &types.AttributeValueMemberS{Value: words[g.rng.IntN(len(words))]})
		add(":one", &types.AttributeValueMemberN{Value: "1"})
	case exprs[1]:
		names["#counter"] = "counter"
		add(":zero", &types.AttributeValueMemberN{Value: "0"})
		add(":n", &types.AttributeValueMemberN{Value: increments[g.rng.IntN(len(increments))]})
	case exprs[2]:
		add(":ns", &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(g.rng.IntN(1000))}})
	case exprs[3]:
		add(":tags", &types.AttributeValueMemberSS{Value: []string{"t" + strconv.Itoa(g.rng.IntN(3))}})
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(g.w.table),
		Key:                       g.key(),
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}
