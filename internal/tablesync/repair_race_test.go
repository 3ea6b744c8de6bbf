package tablesync_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// TestRepair_QueueTargetDeleteAtBatchSeq: target item written at
// seq 100; the source then changed at seq 150 (message stuck in the apply
// DLQ) and was deleted at seq 200 (message lost / not yet published).
// A repair writes a tombstone with seq 100; the DLQ redrive of the seq-150
// message, older than the delete the repair applied, recreates the item.
func TestRepair_QueueTargetDeleteAtBatchSeq(t *testing.T) {
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	names := replattr.Names{}.WithDefaults()
	k := key(1)
	put(t, db, "target", with(k, "v", s("at 100"), names.Seq, s(padded(t, "100"))))
	// source: no item (deleted at seq 200)
	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{Attrs: names})
	_, err := rep.RepairSeq(t.Context(), k, "200") // redrive knows the batch's newest record of the key
	require.NoError(t, err)
	require.True(t, names.IsTombstone(get(t, db, "target", k)))
	assert.Equal(t, padded(t, "200"), names.SeqOf(get(t, db, "target", k)))
	staleWrite(t, db, "target", "150", with(k, "v", s("at 150")))
	assert.Nil(t, names.Visible(get(t, db, "target", k)), "a message older than the delete the repair applied recreated the item")
}

// TestRepair_QueueTargetSeqWrittenMeanwhile: on a queue-path target, an
// item without the sequence attribute (written by backfill, as the README
// says it is) is being repaired when the apply function writes the key's
// newest message (seq 200). The repair's condition compares only the
// attributes it read, so its put (without seq) replaces the guarded item,
// and the guard is gone: a redelivered older message (seq 150) is then
// accepted and the key regresses, although the repair reported success.
func TestRepair_QueueTargetSeqWrittenMeanwhile(t *testing.T) {
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	names := replattr.Names{}.WithDefaults()
	k := key(9)
	s0 := with(k, "v", s("x"), "w", s("new"))
	put(t, db, "source", s0)
	put(t, db, "target", with(k, "v", s("x"))) // backfilled, no seq
	src := &hookedSource{Client: db, hook: func() {
		staleWrite(t, db, "target", "200", s0) // the apply function applies the newest message
	}}
	rep := tablesync.NewRepairer(src, "source", db, "target", tablesync.RepairOptions{Attrs: names})
	_, err := rep.Repair(t.Context(), k)
	require.NoError(t, err)
	assert.Equal(t, padded(t, "200"), names.SeqOf(get(t, db, "target", k)), "the repair removed the sequence number the guard had just written")
	staleWrite(t, db, "target", "150", with(k, "v", s("older")))
	assert.Equal(t, s("x"), get(t, db, "target", k)["v"], "an older message overwrote the repaired item")
}
