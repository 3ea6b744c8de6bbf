package chaos

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// errKilled is what a killed process answers: nothing.
var errKilled = errors.New("process killed")

// killSwitch stands for the death of a `ddbsync run` process (SIGKILL):
// once pulled, the handler's writes in flight are cancelled, no invocation
// answers and the poller's positions are lost.
type killSwitch struct {
	ctx  context.Context
	pull context.CancelFunc
}

func newKillSwitch(t *testing.T) *killSwitch {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return &killSwitch{ctx: ctx, pull: cancel}
}

// killableInvoker runs the handler until the switch is pulled.
type killableInvoker struct {
	inv streampoll.Invoker
	ks  *killSwitch
}

func (k killableInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if k.ks.ctx.Err() != nil {
		return nil, errKilled
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(k.ks.ctx, cancel)()
	out, err := k.inv.Invoke(ctx, payload)
	if k.ks.ctx.Err() != nil {
		return nil, errKilled // died before answering
	}
	return out, err
}

// tripwire pulls the kill switch right after the first BatchWriteItem that
// completes once armed, so the process dies with a batch half applied.
type tripwire struct {
	dynamo.API
	armed atomic.Bool
	ks    *killSwitch
}

func (w *tripwire) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := w.API.BatchWriteItem(ctx, in, optFns...)
	if w.armed.Load() {
		w.ks.pull()
	}
	return out, err
}

// TestReplicate_Restart stops the poller in the middle of a live workload
// with faults, starts a new one, and requires the target to equal the
// source: gracefully (SIGTERM: the new poller resumes after the reported
// positions, and between them the two pollers process every record
// exactly once) and by a kill in the middle of a batch (positions lost:
// the new poller starts again from TRIM_HORIZON).
func TestReplicate_Restart(t *testing.T) {
	const ops, stopAfter = 3000, 800
	tests := map[string]struct {
		kill bool
	}{
		"stopped, resumed from its positions":         {kill: false},
		"killed mid-batch, restarted at TRIM_HORIZON": {kill: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			faults := issueFaults
			faults.Seed = 7
			e := newEnv(t, demoTable, demoTable, faults)
			var failures bytes.Buffer
			opts := pollerOpts(e.streamARN, &failures)

			ks := newKillSwitch(t)
			wire := &tripwire{API: e.targetClient(), ks: ks}
			first := streampoll.New(e.srv.Streams(e.keyID),
				killableInvoker{inv: e.handler(wire, nil, faultTableOpts, faultRepOpts), ks: ks}, opts)
			run1 := runBackground(t, first)

			written := make(chan error, 1)
			go func() {
				_, err := workload{table: sourceTable, keys: 1000, seed: 11, concurrency: 2}.run(t.Context(), e.db, ops)
				written <- err
			}()

			eventually(t, 45*time.Second, "the first poller to process some records", func() bool {
				return first.Stats().Records >= stopAfter
			})
			var resume map[string]string
			if tt.kill {
				wire.armed.Store(true)
				eventually(t, 30*time.Second, "the kill", func() bool { return ks.ctx.Err() != nil })
				run1.halt(t) // what is left of the process exits; its positions are lost
			} else {
				run1.halt(t)
				resume = map[string]string{}
				for _, pos := range first.Positions() {
					if pos.SequenceNumber != "" {
						resume[pos.ShardID] = pos.SequenceNumber
					}
				}
				require.NotEmpty(t, resume)
			}
			stopped := first.Stats().Records

			opts.Resume = resume
			second := streampoll.New(e.srv.Streams(e.keyID), e.handler(nil, nil, faultTableOpts, faultRepOpts), opts)
			run2 := runBackground(t, second)
			require.NoError(t, <-written)
			run2.catchUp(t)

			res := e.compare(t)
			t.Logf("first poller processed %d records, second %d; %s", stopped, second.Stats().Records, res)
			assert.True(t, res.Identical(), "target differs from source: %s", describe(res))
			assert.Positive(t, res.SourceItems)
			assert.Empty(t, failures.String())
			if !tt.kill {
				assert.Equal(t, e.streamRecords(t), stopped+second.Stats().Records,
					"the resumed poller starts right after the last processed record")
			}
		})
	}
}
