package tablesync_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// watchedTarget is the target as the Repairer sees it. Each repair put
// asks DynamoDB for the item it replaced (ReturnValues ALL_OLD) and records
// a regression when that item had a higher version than the one written.
type watchedTarget struct {
	*dynamodb.Client
	mu          sync.Mutex
	puts        int
	regressions []string
}

func (w *watchedTarget) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnValues = types.ReturnValueAllOld
	out, err := w.Client.PutItem(ctx, in, optFns...)
	if err != nil {
		return out, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.puts++
	if old, now := version(out.Attributes), version(in.Item); old > now {
		w.regressions = append(w.regressions, fmt.Sprintf("%s: version %d replaced by %d", idOf(in.Item), old, now))
	}
	return out, nil
}

func version(it item) int {
	if it == nil {
		return -1
	}
	v, _ := strconv.Atoi(it["version"].(*types.AttributeValueMemberN).Value)
	return v
}

func versioned(k item, v int) item {
	it := item{"pk": k["pk"], "sk": k["sk"], "version": n(strconv.Itoa(v)), "data": s(fmt.Sprintf("payload %d", v))}
	if v%2 == 1 {
		it["odd"] = &types.AttributeValueMemberBOOL{Value: true} // the attribute set changes too
	}
	return it
}

// TestRepair_RacingReplication repairs hot keys while a stand-in for the
// replicator keeps updating them: each update writes version v to the
// source, then the same item to the target, as replication does. A repair
// must never replace a target item by an older one, and once both stop the
// tables must be equal without any further repair.
func TestRepair_RacingReplication(t *testing.T) {
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	const hot = 6
	var keys []item
	for i := range hot {
		k := key(i + 1)
		keys = append(keys, k)
		put(t, db, "source", versioned(k, 0))
		if i%2 == 0 { // the others start missing from the target
			put(t, db, "target", versioned(k, 0))
		}
	}
	// Cold differences, repaired alongside: an extra item and a stale one.
	put(t, db, "target", versioned(key(900), 5))
	put(t, db, "source", versioned(key(901), 9))
	put(t, db, "target", versioned(key(901), 2))

	target := &watchedTarget{Client: db}
	rep := tablesync.NewRepairer(db, "source", target, "target", tablesync.RepairOptions{
		Rounds: 1000, // hot keys change all the time
	})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stopUpdates := make(chan struct{})
	var updates atomic.Int64
	var wg sync.WaitGroup
	for _, k := range keys { // one updater per hot key, as one shard orders each key
		wg.Go(func() {
			for v := 1; ; v++ {
				select {
				case <-stopUpdates:
					return
				default:
				}
				it := versioned(k, v)
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: new("source"), Item: it}); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: new("target"), Item: it}); err != nil {
					t.Error(err)
					return
				}
				updates.Add(1)
			}
		})
	}

	// Repair every key over and over until conflicts have been seen, then
	// stop the updates.
	deadline := time.Now().Add(15 * time.Second)
	rounds := 0
	for ; rounds < 5 || (rep.Stats().Conflicts < 20 && time.Now().Before(deadline)); rounds++ {
		todo := make(chan item)
		go func() {
			defer close(todo)
			for _, k := range append(keys, key(900), key(901)) {
				todo <- k
			}
		}()
		require.NoError(t, rep.RepairAll(ctx, todo, 4, nil))
	}
	close(stopUpdates)
	wg.Wait()
	stats := rep.Stats()
	t.Logf("%d repair rounds, %d updates, %d repair puts: %+v", rounds, updates.Load(), target.puts, stats)

	assert.Empty(t, target.regressions, "a repair replaced a newer target item by an older one")
	assert.Positive(t, stats.Conflicts, "the test must make repairs race with updates")
	assert.Zero(t, stats.Failed)

	// No repair after the updates: the last write of each hot key was the
	// updater's, so the tables must already agree.
	src, dst := scanAll(t, db, "source"), scanAll(t, db, "target")
	for _, k := range keys {
		assert.Equal(t, version(src[idOf(k)]), version(dst[idOf(k)]), "hot key %s", idOf(k))
	}
	assert.NotContains(t, dst, idOf(key(900)), "extra item deleted")
	assert.Equal(t, 9, version(dst[idOf(key(901))]), "stale item repaired")
	res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{RecheckDelay: -1})
	require.NoError(t, err)
	assert.True(t, res.Identical(), res.String())
}
