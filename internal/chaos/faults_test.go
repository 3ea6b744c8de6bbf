package chaos

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/faultproxy"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// issueFaults are the fault rates of the property: 5% throttles (half
// ProvisionedThroughputExceededException, half ThrottlingException), 2%
// 500s, 10% partial UnprocessedItems and 1% connection resets (half before
// forwarding, half after).
var issueFaults = faultproxy.Options{
	Seed:     20261127,
	Throttle: 0.025, Throttling: 0.025,
	ServerError: 0.02,
	Unprocessed: 0.10,
	ResetBefore: 0.005, ResetAfter: 0.005,
}

// Settings of the replicator under faults. Two attempts per write (the
// deployed default is 10) make the handler give up on some chunks, so the
// second line of defence, the event source re-sending the batch from the
// reported record, is exercised too.
var (
	faultTableOpts = dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: 2 * time.Millisecond, MaxDelay: 50 * time.Millisecond}}
	faultRepOpts   = replicate.Options{Concurrency: 2}
)

// pollerOpts are the `ddbsync run` settings of the tests: Lambda's default
// batch size, fast polling and retries, and enough retries that a batch
// only reaches the failure file if something is really broken.
func pollerOpts(arn string, failures *bytes.Buffer) streampoll.Options {
	return streampoll.Options{
		StreamARN:      arn,
		BatchSize:      100,
		MaxRetries:     20,
		RetryBaseDelay: 5 * time.Millisecond,
		RetryMaxDelay:  100 * time.Millisecond,
		PollInterval:   50 * time.Millisecond,
		Failures:       failures,
		FunctionARN:    "in-process",
	}
}

// TestReplicate_UnderFaults replicates a 10,000-operation random workload
// with the stream poller and the real handler, whose every write goes
// through the fault proxy, and requires the target to equal the source.
func TestReplicate_UnderFaults(t *testing.T) {
	t.Parallel() // overlaps with TestBootstrap_ShortDeadline, which mostly waits
	const ops = 10_000
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	e := newEnv(t, demoTable, demoTable, issueFaults)
	m := &metrics{}
	h := e.handler(nil, m, faultTableOpts, faultRepOpts)
	var failures bytes.Buffer
	p := streampoll.New(e.srv.Streams(e.keyID), h, pollerOpts(e.streamARN, &failures))

	run := runBackground(t, p)

	counts, err := workload{table: sourceTable, keys: 2000, seed: 6, concurrency: 2}.run(ctx, e.db, ops)
	require.NoError(t, err)
	require.Equal(t, ops, counts.Total())
	wrote := time.Since(start)
	run.catchUp(t)

	res := e.compare(t)
	ps, fs, ms := p.Stats(), e.proxy.Stats(), m.sums(t)
	t.Logf("workload: %s in %v; replicated in %v", counts, wrote.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	t.Logf("compare: %s", describe(res))
	t.Logf("proxy: %+v", fs)
	t.Logf("handler metrics: %+v", ms)
	t.Logf("poller: %d records, %d invocations, %d retries, %d failed records", ps.Records, ps.Invocations, ps.Retries, ps.FailedRecords)

	assert.True(t, res.Identical(), "target differs from source: %s", describe(res))
	assert.Positive(t, res.SourceItems)
	assert.Empty(t, failures.String(), "no batch may reach the failure file")
	assert.Zero(t, ps.FailedRecords)

	// Every kind of fault happened.
	assert.Positive(t, fs.Throttled, "throttles")
	assert.Positive(t, fs.Throttling, "throttling")
	assert.Positive(t, fs.ServerErrors, "500s")
	assert.Positive(t, fs.Unprocessed, "partial UnprocessedItems")
	assert.Positive(t, fs.ResetsBefore, "resets before forwarding")
	assert.Positive(t, fs.ResetsAfter, "resets after forwarding")

	// The handler's failures and retries show in its metrics, and agree
	// with what the event source saw.
	assert.Positive(t, ms.WriteRetries, "WriteRetries")
	assert.Positive(t, ms.RecordsFailed, "RecordsFailed")
	assert.EqualValues(t, ps.Invocations, ms.Invocations, "one EMF line per invocation")
	assert.EqualValues(t, ps.Retries, ms.FailedResponses, "each partial failure made the poller re-send the batch once")
	assert.GreaterOrEqual(t, int64(ms.RecordsReceived), ps.Records, "re-sent records are received again")
}
