package streampoll

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPoller_Run_Lineage(t *testing.T) {
	// root splits into a and b; a splits into a1. The listing order is
	// deliberately children first, over several DescribeStream pages.
	stream := newFakeStream(
		&fakeShard{id: "shard-a1", parent: "shard-a", seqs: []int{40, 41}},
		&fakeShard{id: "shard-b", parent: "shard-root", seqs: []int{30, 32}, closed: true},
		&fakeShard{id: "shard-a", parent: "shard-root", seqs: []int{31, 33}, closed: true},
		&fakeShard{id: "shard-root", seqs: []int{10, 11, 12}, closed: true},
		&fakeShard{id: "shard-orphan", parent: "shard-expired", seqs: []int{5}},
	)
	fn := &fakeFunction{}
	p := New(stream.api(), fn, testOptions())
	runPoller(t, p)

	delivered := map[int]int{} // seq -> order of delivery
	order := 0
	for _, b := range fn.got() {
		for _, seq := range b {
			delivered[seq] = order
			order++
		}
	}
	require.Len(t, delivered, 10, "every record once")
	before := func(parent, child int) {
		assert.Less(t, delivered[parent], delivered[child], "%d before %d", parent, child)
	}
	before(12, 30)
	before(12, 31)
	before(33, 40)
	before(31, 33)
	assert.Equal(t, []Position{
		{ShardID: "shard-a", SequenceNumber: seqString(33), Drained: true},
		{ShardID: "shard-a1", SequenceNumber: seqString(41)},
		{ShardID: "shard-b", SequenceNumber: seqString(32), Drained: true},
		{ShardID: "shard-orphan", SequenceNumber: seqString(5)},
		{ShardID: "shard-root", SequenceNumber: seqString(12), Drained: true},
	}, p.Positions())
	assert.Equal(t, int64(10), p.Stats().Records)
}

func TestPoller_Run_Batches(t *testing.T) {
	tests := map[string]struct {
		opts func(*Options)
		want [][]int
	}{
		"batch size": {
			opts: func(o *Options) { o.BatchSize = 2 },
			want: [][]int{{1, 2}, {3, 4}, {5}},
		},
		"default batch size takes all": {
			opts: func(*Options) {},
			want: [][]int{{1, 2, 3, 4, 5}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2, 3, 4, 5}})
			fn := &fakeFunction{}
			opts := testOptions()
			tt.opts(&opts)
			runPoller(t, New(stream.api(), fn, opts))
			assert.Equal(t, tt.want, fn.got())
		})
	}
}

func TestPoller_Run_BatchWindow(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1}})
	var calls int
	api := stream.api()
	records := api.getRecords
	api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		calls++
		if calls == 2 {
			stream.add("s", 2, 3) // arrive within the window
		}
		return records(ctx, in)
	}
	fn := &fakeFunction{}
	opts := testOptions()
	opts.BatchWindow = time.Second
	runPoller(t, New(api, fn, opts))
	assert.Equal(t, [][]int{{1, 2, 3}}, fn.got())
}

func TestPoller_Run_PartialFailureResumes(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2, 3, 4, 5}})
	fn := &fakeFunction{respond: func(call int, _ []int) ([]byte, error) {
		switch call {
		case 1:
			return failAt(3), nil // 1 and 2 applied
		case 2:
			return []byte(`{"batchItemFailures":[{"itemIdentifier":"` + seqString(5) + `"},{"itemIdentifier":"` + seqString(4) + `"}]}`), nil // lowest wins
		}
		return []byte(`{}`), nil
	}}
	var failures bytes.Buffer
	opts := testOptions()
	opts.Failures = &failures
	p := New(stream.api(), fn, opts)
	runPoller(t, p)
	assert.Equal(t, [][]int{{1, 2, 3, 4, 5}, {3, 4, 5}, {4, 5}}, fn.got())
	assert.Empty(t, failures.String())
	s := p.Stats()
	assert.Equal(t, int64(5), s.Records)
	assert.Equal(t, int64(3), s.Invocations)
	assert.Equal(t, int64(2), s.Retries)
	assert.Equal(t, seqString(5), p.Positions()[0].SequenceNumber)
}

func TestPoller_Run_RetriesExhausted(t *testing.T) {
	tests := map[string]struct {
		respond       func(call int, seqs []int) ([]byte, error)
		wantBatches   [][]int
		wantFailure   string
		wantFunctErr  string
		wantInvokeCnt int
	}{
		"partial failure": {
			respond: func(_ int, seqs []int) ([]byte, error) {
				if seqs[0] <= 2 {
					return failAt(2), nil
				}
				return nil, nil
			},
			wantBatches:   [][]int{{1, 2, 3}, {2, 3}, {2, 3}, {2, 3}, {4}},
			wantFailure:   `"startSequenceNumber":"` + seqString(2) + `","endSequenceNumber":"` + seqString(3) + `"`,
			wantInvokeCnt: 4,
		},
		"function error": {
			respond: func(_ int, seqs []int) ([]byte, error) {
				if seqs[0] == 1 {
					return nil, &lambdainvoke.FunctionError{Type: "errorString", Message: "boom"}
				}
				return []byte(`null`), nil
			},
			wantBatches:   [][]int{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {4}},
			wantFailure:   `"startSequenceNumber":"` + seqString(1) + `","endSequenceNumber":"` + seqString(3) + `"`,
			wantFunctErr:  FunctionErrorUnhandled,
			wantInvokeCnt: 4,
		},
		"unknown itemIdentifier": {
			respond: func(_ int, seqs []int) ([]byte, error) {
				if seqs[0] == 1 {
					return failAt(99), nil
				}
				return nil, nil
			},
			wantBatches:   [][]int{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {4}},
			wantFailure:   `"startSequenceNumber":"` + seqString(1) + `"`,
			wantInvokeCnt: 4,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream := newFakeStream(&fakeShard{id: "shard-1", seqs: []int{1, 2, 3}})
			var calls int
			api := stream.api()
			records := api.getRecords
			api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
				calls++
				if calls == 2 {
					stream.add("shard-1", 4) // the next batch, after the failed one
				}
				return records(ctx, in)
			}
			fn := &fakeFunction{respond: tt.respond}
			var failures bytes.Buffer
			opts := testOptions()
			opts.Failures = &failures
			opts.FunctionARN = "in-process"
			p := New(api, fn, opts)
			runPoller(t, p)

			assert.Equal(t, tt.wantBatches, fn.got())
			lines := readLines(t, failures.Bytes())
			require.Len(t, lines, 1, "one failure record")
			assert.Contains(t, lines[0], tt.wantFailure)
			var rec FailureRecord
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
			assert.Equal(t, "shard-1", rec.DDBStreamBatchInfo.ShardID)
			assert.Equal(t, testStreamARN, rec.DDBStreamBatchInfo.StreamARN)
			assert.Equal(t, ConditionRetryAttemptsExhausted, rec.RequestContext.Condition)
			assert.Equal(t, tt.wantInvokeCnt, rec.RequestContext.ApproximateInvokeCount)
			assert.Equal(t, "in-process", rec.RequestContext.FunctionARN)
			assert.Equal(t, tt.wantFunctErr, rec.ResponseContext.FunctionError)
			assert.Equal(t, "2026-11-18T11:06:40Z", rec.DDBStreamBatchInfo.ApproximateArrivalOfFirstRecord)

			s := p.Stats()
			assert.Equal(t, int64(4), s.Records, "failed records count as processed")
			assert.Equal(t, int64(1), s.FailedBatches)
			assert.Equal(t, seqString(4), p.Positions()[0].SequenceNumber)
		})
	}
}

func TestPoller_Run_FailureWriteError(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2}})
	fn := &fakeFunction{respond: func(int, []int) ([]byte, error) { return failAt(2), nil }}
	opts := testOptions()
	opts.MaxRetries = 1
	opts.Failures = failingWriter{}
	p := New(stream.api(), fn, opts)
	err := p.Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "write failure record")
	assert.Equal(t, seqString(1), p.Positions()[0].SequenceNumber, "the failed records are not skipped")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPoller_Run_StopFinishesBatchInFlight(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2, 3}})
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	fn := &fakeFunction{respond: func(call int, _ []int) ([]byte, error) {
		cancel() // Ctrl-C arrives during the invocation
		<-release
		return failAt(3), nil // a partial failure: no retry once stopping
	}}
	opts := testOptions()
	opts.StopWhenIdle = 0
	p := New(stream.api(), fn, opts)
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	<-ctx.Done()
	close(release)
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.Len(t, fn.got(), 1)
	assert.Equal(t, []Position{{ShardID: "s", SequenceNumber: seqString(2)}}, p.Positions())
	assert.Zero(t, p.Stats().Pending)
}

func TestPoller_Run_StartingPosition(t *testing.T) {
	tests := map[string]struct {
		start         StartingPosition
		resume        map[string]string
		wantBatches   [][]int
		wantIterators []string
	}{
		"trim horizon": {
			start:         TrimHorizon,
			wantBatches:   [][]int{{1, 2}, {3, 4}, {5}},
			wantIterators: []string{"old TRIM_HORIZON", "new TRIM_HORIZON"},
		},
		"latest skips closed shards and old records": {
			start:         Latest,
			wantBatches:   [][]int{{5}},
			wantIterators: []string{"new LATEST"},
		},
		"resume after a position": {
			resume:        map[string]string{"new": seqString(3)},
			wantBatches:   [][]int{{4}, {5}},
			wantIterators: []string{"new AFTER_SEQUENCE_NUMBER " + seqString(3)},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream := newFakeStream(
				&fakeShard{id: "old", seqs: []int{1, 2}, closed: true},
				&fakeShard{id: "new", parent: "old", seqs: []int{3, 4}},
			)
			var iterCalls int
			api := stream.api()
			iterator := api.getShardIterator
			api.getShardIterator = func(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
				out, err := iterator(ctx, in)
				if iterCalls++; aws.ToString(in.ShardId) == "new" {
					stream.add("new", 5) // written after the poller started
				}
				return out, err
			}
			fn := &fakeFunction{}
			opts := testOptions()
			opts.Start, opts.Resume = tt.start, tt.resume
			opts.BatchSize = 2
			runPoller(t, New(api, fn, opts))
			got := fn.got()
			var flat, want []int
			for _, b := range got {
				flat = append(flat, b...)
			}
			for _, b := range tt.wantBatches {
				want = append(want, b...)
			}
			assert.Equal(t, want, flat)
			assert.Equal(t, tt.wantIterators, stream.iterators)
		})
	}
}

func TestPoller_Run_RecoversFromReadErrors(t *testing.T) {
	tests := map[string]struct {
		err           error
		wantIterators []string
	}{
		"expired iterator": {
			err:           &streamtypes.ExpiredIteratorException{Message: aws.String("expired")},
			wantIterators: []string{"s TRIM_HORIZON", "s AFTER_SEQUENCE_NUMBER " + seqString(2)},
		},
		"trimmed data": {
			err:           &streamtypes.TrimmedDataAccessException{Message: aws.String("trimmed")},
			wantIterators: []string{"s TRIM_HORIZON", "s TRIM_HORIZON"},
		},
		"throttled": {
			err:           &smithy.GenericAPIError{Code: "LimitExceededException", Message: "slow down"},
			wantIterators: []string{"s TRIM_HORIZON"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2}})
			api := stream.api()
			records := api.getRecords
			var calls int
			api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
				calls++
				if calls == 2 {
					stream.add("s", 3)
					return nil, tt.err
				}
				return records(ctx, in)
			}
			fn := &fakeFunction{}
			runPoller(t, New(api, fn, testOptions()))
			var got []int
			for _, b := range fn.got() {
				got = append(got, b...)
			}
			if name == "trimmed data" {
				assert.Equal(t, []int{1, 2, 1, 2, 3}, got, "restarts at the oldest record still in the stream")
			} else {
				assert.Equal(t, []int{1, 2, 3}, got)
			}
			assert.Equal(t, tt.wantIterators, stream.iterators)
		})
	}
}

func TestPoller_Run_Errors(t *testing.T) {
	tests := map[string]struct {
		opts    func(*Options)
		api     func(*fakeAPI)
		wantErr string
	}{
		"no stream ARN": {
			opts:    func(o *Options) { o.StreamARN = "" },
			wantErr: "no stream ARN",
		},
		"unknown stream": {
			opts:    func(o *Options) { o.StreamARN = "arn:nope" },
			wantErr: "describe stream arn:nope",
		},
		"unknown resume shard": {
			opts:    func(o *Options) { o.Resume = map[string]string{"nope": "1"} },
			wantErr: "resume shard nope",
		},
		"get records access denied": {
			api: func(a *fakeAPI) {
				a.getRecords = func(context.Context, *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
					return nil, errors.New("AccessDenied")
				}
			},
			wantErr: "get records from shard s: AccessDenied",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			api := newFakeStream(&fakeShard{id: "s", seqs: []int{1}}).api()
			if tt.api != nil {
				tt.api(api)
			}
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			err := New(api, &fakeFunction{}, opts).Run(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestPoller_WaitIdle(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2, 3}})
	fn := &fakeFunction{}
	opts := testOptions()
	opts.StopWhenIdle = 0
	p := New(stream.api(), fn, opts)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()

	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	require.NoError(t, p.WaitIdle(wctx, 50*time.Millisecond))
	assert.Equal(t, int64(3), p.Stats().Records)
	cancel()
	require.NoError(t, <-errc)

	expired, ecancel := context.WithCancel(t.Context())
	ecancel()
	assert.ErrorIs(t, p.WaitIdle(expired, time.Hour), context.Canceled)
	notRun := New(stream.api(), fn, opts)
	assert.ErrorIs(t, notRun.WaitIdle(expired, time.Nanosecond), context.Canceled, "not idle before Run has listed the shards")
}

func readLines(tb testing.TB, b []byte) []string {
	tb.Helper()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(tb, sc.Err())
	return lines
}
