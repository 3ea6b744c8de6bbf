package tablesync_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// get reads one item with ConsistentRead (nil if none).
func get(tb testing.TB, db *dynamodb.Client, table string, k item) item {
	tb.Helper()
	out, err := db.GetItem(tb.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	require.NoError(tb, err)
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

func with(base item, attrs ...any) item {
	out := item{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(attrs); i += 2 {
		out[attrs[i].(string)] = attrs[i+1].(av)
	}
	return out
}

func padded(t *testing.T, seq string) string {
	p, err := dynamo.PadSeq(seq)
	require.NoError(t, err)
	return p
}

// staleWrite sends an old change through the queue path's guard, as a
// redelivered message would.
func staleWrite(t *testing.T, db *dynamodb.Client, table, seq string, it item) {
	t.Helper()
	k := item{"pk": it["pk"], "sk": it["sk"]}
	id, _ := replicate.KeyID(k)
	g := dynamo.NewSeqGuard(dynamo.NewTable(db, table, dynamo.Options{}), replattr.Names{}, dynamo.GuardOptions{})
	errs, _ := g.WriteBatch(t.Context(), []replicate.Write{{Op: replicate.OpPut, Key: k, KeyID: id, Item: it, Seq: seq}})
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// TestRepair_ManyAttributes repairs items with more attributes than a
// condition expression can compare (DynamoDB allows 300 operators in one
// expression): every item DynamoDB accepts must be repairable.
func TestRepair_ManyAttributes(t *testing.T) {
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	for i, attrs := range []int{149, 160, 1200} {
		k := key(i + 1)
		src, dst := with(k), with(k)
		for a := range attrs {
			src[fmt.Sprintf("a%04d", a)] = s("new")
			dst[fmt.Sprintf("a%04d", a)] = s("old")
		}
		put(t, db, "source", src)
		put(t, db, "target", dst)
		rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
		act, err := rep.Repair(t.Context(), k)
		require.NoError(t, err, "%d attributes", attrs)
		assert.Equal(t, tablesync.ActionPut, act)
		assert.Equal(t, src, get(t, db, "target", k), "%d attributes", attrs)
	}
}

// hookedSource runs hook once, right after the first source read: a live
// change between the repair's reads and its write.
type hookedSource struct {
	*dynamodb.Client
	once sync.Once
	hook func()
}

func (h *hookedSource) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := h.Client.GetItem(ctx, in, optFns...)
	h.once.Do(h.hook)
	return out, err
}

// TestRepair_LiveWriteAddsAttribute: replication adds an attribute to the
// target between the repair's reads and its write. DynamoDB cannot
// condition on an attribute the repair never saw, so the write can replace
// the newer item; the repair must see that on its next read and write
// again, and when it has no round left it must say the key is left older
// than the source, not that the stream will fix it.
func TestRepair_LiveWriteAddsAttribute(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rounds int
	}{{"one round", 1}, {"default rounds", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			db := localDB(t)
			createTables(t, db, "", "source", "target")
			k := key(7)
			s0 := with(k, "a", s("x"), "c", s("y"))
			s1 := with(s0, "b", s("added live"))
			put(t, db, "source", s0)
			put(t, db, "target", with(k, "a", s("x")))
			src := &hookedSource{Client: db, hook: func() {
				put(t, db, "source", s1) // the live change, and its replication
				put(t, db, "target", s1)
			}}
			rep := tablesync.NewRepairer(src, "source", db, "target", tablesync.RepairOptions{Rounds: tt.rounds})
			_, err := rep.Repair(t.Context(), k)
			if tt.rounds == 1 {
				require.ErrorIs(t, err, tablesync.ErrStillChanging)
				assert.NotContains(t, err.Error(), "stream", "the stream does not carry a change a repair overwrote")
				assert.Contains(t, err.Error(), "older")
				require.Len(t, rep.FailedKeys(), 1)
				assert.Equal(t, k, rep.FailedKeys()[0])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, s1, get(t, db, "target", k), "the live attribute is kept")
			assert.Empty(t, rep.FailedKeys())
		})
	}
}

// TestRepair_InterruptedNamesKeys: a repair stopped by its context names
// the key it did not finish.
func TestRepair_InterruptedNamesKeys(t *testing.T) {
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	put(t, db, "source", with(key(1), "v", s("1")))
	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := rep.Repair(ctx, key(1))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []tablesync.Item{key(1)}, rep.FailedKeys())
	assert.EqualValues(t, 1, rep.Stats().Failed)
}

// queueTarget seeds a source and a queue-path target: every target item
// carries the sequence attribute, and a deleted key left a tombstone.
func queueTarget(t *testing.T, db *dynamodb.Client, names replattr.Names) (same, stale, gone item) {
	createTables(t, db, "", "source", "target")
	names = names.WithDefaults()
	same, stale, gone = key(1), key(2), key(3)
	put(t, db, "source", with(same, "v", s("1")))
	put(t, db, "target", with(same, "v", s("1"), names.Seq, s(padded(t, "100"))))
	put(t, db, "source", with(stale, "v", s("new")))
	put(t, db, "target", with(stale, "v", s("old"), names.Seq, s(padded(t, "100"))))
	put(t, db, "target", names.Tombstone(gone, padded(t, "100"), time.Now().Add(time.Hour)))
	return same, stale, gone
}

// TestVerify_QueueTarget: on a queue-path target, the sequence attribute
// is not a difference and a tombstone is no item.
func TestVerify_QueueTarget(t *testing.T) {
	for _, names := range []replattr.Names{{}, {Seq: "ver", Deleted: "gone", Expires: "ttl"}} {
		t.Run(names.WithDefaults().Seq, func(t *testing.T) {
			db := localDB(t)
			_, stale, _ := queueTarget(t, db, names)
			onDiff, diffs := collect()
			res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{
				RecheckDelay: -1, Attrs: names, OnDifference: onDiff,
			})
			require.NoError(t, err)
			assert.Equal(t, int64(2), res.TargetItems, "the tombstone is not counted")
			assert.Equal(t, int64(0), res.Missing+res.Extra)
			assert.Equal(t, int64(1), res.Different)
			require.Len(t, diffs(), 1)
			assert.Equal(t, stale, diffs()[0].Key)
			assert.Equal(t, []string{"v"}, diffs()[0].Attributes)
		})
	}
}

// TestRepair_QueueTargetKeepsGuard: a repair on a queue-path target keeps
// the sequence attribute, so a redelivered older message is still refused
// after it; a repair delete leaves a tombstone, so that message cannot
// recreate the item either; and a repair of a key with a tombstone keeps
// its sequence number.
func TestRepair_QueueTargetKeepsGuard(t *testing.T) {
	db := localDB(t)
	names := replattr.Names{}.WithDefaults()
	_, stale, gone := queueTarget(t, db, names)
	extra := key(4)
	put(t, db, "target", with(extra, "v", s("deleted from the source"), names.Seq, s(padded(t, "100"))))
	back := key(5)
	put(t, db, "source", with(back, "v", s("recreated")))
	put(t, db, "target", names.Tombstone(back, padded(t, "100"), time.Now().Add(time.Hour)))

	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{Attrs: names})
	for _, k := range []item{stale, gone, extra, back} {
		_, err := rep.Repair(t.Context(), k)
		require.NoError(t, err, idOf(k))
	}
	assert.Equal(t, with(stale, "v", s("new"), names.Seq, s(padded(t, "100"))), get(t, db, "target", stale))
	assert.True(t, names.IsTombstone(get(t, db, "target", extra)), "a repair delete leaves a tombstone")
	assert.Equal(t, padded(t, "100"), names.SeqOf(get(t, db, "target", extra)))
	assert.Equal(t, with(back, "v", s("recreated"), names.Seq, s(padded(t, "100"))), get(t, db, "target", back))
	assert.True(t, names.IsTombstone(get(t, db, "target", gone)), "an equal tombstone is left alone")

	// Redelivered older messages change nothing.
	staleWrite(t, db, "target", "50", with(stale, "v", s("older")))
	staleWrite(t, db, "target", "50", with(extra, "v", s("older")))
	assert.Equal(t, s("new"), get(t, db, "target", stale)["v"])
	assert.Nil(t, names.Visible(get(t, db, "target", extra)), "no resurrection")

	res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{RecheckDelay: -1, Attrs: names})
	require.NoError(t, err)
	assert.True(t, res.Identical(), res.String())
	assert.False(t, strings.Contains(res.String(), "error"))
}
