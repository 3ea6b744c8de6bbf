package tablesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddblocal"
	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

var errPoison = errors.New("poison key rejected")

// poisonWriter rejects every write of one key while broken, as a target
// that cannot take that item would (a schema or permission problem), and
// passes the other writes on.
type poisonWriter struct {
	w      replicate.Writer
	poison string // KeyID
	broken atomic.Bool
}

func (p *poisonWriter) WriteBatch(ctx context.Context, writes []replicate.Write) ([]error, int) {
	if !p.broken.Load() {
		return p.w.WriteBatch(ctx, writes)
	}
	var others []replicate.Write
	var at []int
	errs := make([]error, len(writes))
	for i, w := range writes {
		if w.KeyID == p.poison {
			errs[i] = errPoison
			continue
		}
		others = append(others, w)
		at = append(at, i)
	}
	if len(others) > 0 {
		oerrs, retries := p.w.WriteBatch(ctx, others)
		for j, err := range oerrs {
			errs[at[j]] = err
		}
		return errs, retries
	}
	return errs, 0
}

// TestRedrive_PoisonBatchAfterFix replicates through the real handler with
// a local poller until a poison key exhausts the retries, then redrives
// the failure record: refused while the key is still poison, applied once
// it is fixed, with the batch's other keys brought back to their current
// value.
func TestRedrive_PoisonBatchAfterFix(t *testing.T) {
	db := localDB(t)
	streams := local.Streams(ddblocal.AccessKeyID(t))
	arn, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{
		Name: "source", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN, StreamViewType: types.StreamViewTypeNewAndOldImages,
	})
	require.NoError(t, err)
	createTables(t, db, "", "target")

	poison := key(3)
	poisonID, _ := replicate.KeyID(poison)
	writer := &poisonWriter{w: dynamo.NewTable(db, "target", dynamo.Options{MaxAttempts: 2}), poison: poisonID}
	writer.broken.Store(true)
	handler := lambdahandler.New(replicate.New(writer, replicate.Options{}), lambdahandler.Options{TargetTable: "target"})

	var failures bytes.Buffer
	p := streampoll.New(streams, handler, streampoll.Options{
		StreamARN: arn, BatchSize: 100, BatchWindow: 200 * time.Millisecond, MaxRetries: 1,
		RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 10 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Failures: &failures,
	})
	ctx, stop := context.WithTimeout(t.Context(), 60*time.Second)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	for i := 1; i <= 5; i++ {
		put(t, db, "source", versioned(key(i), 1))
	}
	require.NoError(t, p.WaitIdle(ctx, 500*time.Millisecond))
	put(t, db, "source", versioned(key(4), 2)) // a later change of a key of the failed batch
	require.Eventually(t, func() bool { return p.Stats().Records == 6 }, 20*time.Second, 10*time.Millisecond,
		"the poller applies the later change")
	stop()
	require.NoError(t, <-done)

	lines := strings.Split(strings.TrimSpace(failures.String()), "\n")
	require.Len(t, lines, 1, "one batch given up: %s", failures.String())
	var rec streampoll.FailureRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	dst := scanAll(t, db, "target")
	require.NotContains(t, dst, idOf(poison))
	require.Equal(t, 2, version(dst[idOf(key(4))]), "stats %+v failures %s", p.Stats(), failures.String())

	rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{})
	opts := tablesync.RedriveOptions{Repairer: rep}

	t.Run("still poison", func(t *testing.T) {
		res, err := tablesync.Redrive(t.Context(), streams, handler, rec.DDBStreamBatchInfo, opts)
		require.ErrorIs(t, err, tablesync.ErrStillFailing)
		assert.Equal(t, rec.DDBStreamBatchInfo.StartSequenceNumber, res.FailedSeq, "the batch starts at the poison record")
	})

	t.Run("after the fix", func(t *testing.T) {
		writer.broken.Store(false)
		res, err := tablesync.Redrive(t.Context(), streams, handler, rec.DDBStreamBatchInfo, opts)
		require.NoError(t, err)
		assert.Equal(t, rec.DDBStreamBatchInfo.BatchSize, res.Records)
		assert.False(t, res.Expired)
		dst := scanAll(t, db, "target")
		assert.Equal(t, 1, version(dst[idOf(poison)]), "the poison key is replicated")
		assert.Equal(t, 2, version(dst[idOf(key(4))]), "the replayed old image of key 4 was repaired back")
		vres, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{RecheckDelay: -1})
		require.NoError(t, err)
		assert.True(t, vres.Identical(), vres.String())
	})

	t.Run("expired records", func(t *testing.T) {
		gone := rec.DDBStreamBatchInfo
		gone.ShardID = "shardId-00000000000000000000-gone0000"
		_, err := tablesync.Redrive(t.Context(), streams, handler, gone, opts)
		require.ErrorIs(t, err, tablesync.ErrExpired)
		assert.ErrorContains(t, err, "verify --repair")
	})

	t.Run("bad record", func(t *testing.T) {
		bad := rec.DDBStreamBatchInfo
		bad.StartSequenceNumber = bad.EndSequenceNumber + "0" // start after end
		_, err := tablesync.Redrive(t.Context(), streams, handler, bad, opts)
		assert.ErrorIs(t, err, tablesync.ErrBadFailureRecord)
	})
}
