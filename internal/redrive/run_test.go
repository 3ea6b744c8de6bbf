package redrive_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/redrive"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// memSource is an in-memory Source that records what was done and kept.
type memSource struct {
	bodies     []string
	next       int
	done, kept []string
}

func (s *memSource) Next(context.Context) (redrive.Message, error) {
	if s.next >= len(s.bodies) {
		return redrive.Message{}, io.EOF
	}
	s.next++
	return redrive.Message{Body: []byte(s.bodies[s.next-1]), Where: s.bodies[s.next-1]}, nil
}

func (s *memSource) Done(_ context.Context, m redrive.Message) error {
	s.done = append(s.done, m.Where)
	return nil
}

func (s *memSource) Keep(_ context.Context, m redrive.Message) error {
	s.kept = append(s.kept, m.Where)
	return nil
}

func (s *memSource) Close(context.Context) error { return nil }

func TestRedriver_Run(t *testing.T) {
	db, streams, arn := tables(t)
	put(t, db, "source", version("A", 1))
	put(t, db, "source", version("P", 1))
	line := func(b streampoll.BatchInfo) string {
		out, err := json.Marshal(streampoll.FailureRecord{DDBStreamBatchInfo: b})
		require.NoError(t, err)
		return string(out)
	}
	good := line(batchOf(t, streams, arn, 0, 0))
	poison := line(batchOf(t, streams, arn, 1, 1))
	gone := batchOf(t, streams, arn, 0, 0)
	gone.ShardID = "shardId-00000000000000000000-gone0000"
	expired := line(gone)
	foreign := line(streampoll.BatchInfo{ShardID: "s", StreamARN: "arn:aws:dynamodb:r:1:table/other/stream/x"})

	tests := map[string]struct {
		dryRun, dropExpired bool
		cancel              bool
		wantDone, wantKept  []string
		wantTotals          redrive.Totals
		wantErr             error
	}{
		"removes only the batches redriven": {
			wantDone: []string{good}, wantKept: []string{poison, expired, "not json", foreign},
			wantTotals: redrive.Totals{Batches: 5, Redriven: 1, Expired: 1, Kept: 1, Unreadable: 2, Left: 4, Records: 2, Puts: 1, FailedKeys: 1},
		},
		"drop expired": {
			dropExpired: true,
			wantDone:    []string{good, expired}, wantKept: []string{poison, "not json", foreign},
			wantTotals: redrive.Totals{Batches: 5, Redriven: 1, Expired: 1, Kept: 1, Unreadable: 2, Left: 3, Records: 2, Puts: 1, FailedKeys: 1},
		},
		"dry run removes nothing": {
			dryRun: true, dropExpired: true,
			wantKept: []string{good, poison, expired, "not json", foreign},
			// A dry run does not write, so it cannot see that P's write fails.
			wantTotals: redrive.Totals{Batches: 5, Redriven: 2, Expired: 1, Unreadable: 2, Left: 5, Records: 2, Puts: 2},
		},
		"interrupted: the batch is kept, its keys named": {
			cancel:     true,
			wantKept:   []string{good},
			wantTotals: redrive.Totals{Batches: 1, Kept: 1, Left: 1, Records: 1, FailedKeys: 1},
			wantErr:    context.Canceled,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, id := range []string{"A", "P"} {
				del(t, db, "target", id)
			}
			src := &memSource{bodies: []string{good, poison, expired, "not json", foreign}}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var rep redrive.Repairer = tablesync.NewRepairer(db, "source", rejecting(db, "P"), "target", tablesync.RepairOptions{DryRun: tt.dryRun})
			if tt.cancel {
				rep = &cancelingRepairer{Repairer: rep, cancel: cancel}
			}
			r := &redrive.Redriver{Streams: streams, Repairer: rep, Table: "source", DryRun: tt.dryRun, DropExpired: tt.dropExpired}
			var outcomes []redrive.Outcome
			totals, err := r.Run(ctx, src, func(o redrive.Outcome) { outcomes = append(outcomes, o) })
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantDone, src.done)
			assert.Equal(t, tt.wantKept, src.kept)
			assert.Equal(t, tt.wantTotals, totals)
			assert.Len(t, outcomes, tt.wantTotals.Batches)
			if tt.dryRun || tt.cancel {
				assert.Nil(t, get(t, db, "target", "A"), "nothing written")
			} else {
				assert.Equal(t, version("A", 1), get(t, db, "target", "A"))
			}
		})
	}
}

// cancelingRepairer ends the context (as Ctrl-C would) once the batch was
// read, just before the first repair.
type cancelingRepairer struct {
	redrive.Repairer
	cancel func()
}

func (c *cancelingRepairer) RepairSeq(ctx context.Context, key tablesync.Item, seq string) (tablesync.Action, error) {
	c.cancel()
	return c.Repairer.RepairSeq(ctx, key, seq)
}
