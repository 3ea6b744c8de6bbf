package streampoll

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoller_Run_LatestMoreShardsThanReaders: with --start latest, a shard
// waiting for a reader would take its LATEST iterator only when its reader
// starts and skip what was written meanwhile. The run refuses instead.
func TestPoller_Run_LatestMoreShardsThanReaders(t *testing.T) {
	stream := newFakeStream(
		&fakeShard{id: "a", seqs: []int{1}},
		&fakeShard{id: "b", seqs: []int{2}},
		&fakeShard{id: "c", seqs: []int{3}},
	)
	api := stream.api()
	records := api.getRecords
	var once sync.Once
	api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		once.Do(func() { // written after the start, before a waiting shard's reader starts
			stream.add("a", 10)
			stream.add("b", 20)
			stream.add("c", 30)
		})
		return records(ctx, in)
	}
	fn := &fakeFunction{}
	opts := testOptions()
	opts.Start = Latest
	opts.MaxShards = 2
	err := New(api, fn, opts).Run(t.Context())
	require.Error(t, err, "delivered %v", fn.got())
	var tooMany *TooManyShardsError
	require.ErrorAs(t, err, &tooMany)
	assert.Equal(t, TooManyShardsError{Shards: 3, MaxShards: 2}, *tooMany)
	assert.Contains(t, err.Error(), "3 open shards start at LATEST but at most 2 are read at once")
	assert.Empty(t, fn.got(), "nothing is read")
}

// TestPoller_Run_LatestFixedAtStart checks that every shard's LATEST
// position is taken before any shard is read, so that records written once
// the run has started are delivered in every shard.
func TestPoller_Run_LatestFixedAtStart(t *testing.T) {
	stream := newFakeStream(
		&fakeShard{id: "a", seqs: []int{1}},
		&fakeShard{id: "b", seqs: []int{2}},
		&fakeShard{id: "c", seqs: []int{3}},
	)
	api := stream.api()
	records, iterator := api.getRecords, api.getShardIterator
	var mu sync.Mutex
	var calls []string
	var once sync.Once
	api.getShardIterator = func(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
		mu.Lock()
		calls = append(calls, "iterator "+aws.ToString(in.ShardId))
		mu.Unlock()
		return iterator(ctx, in)
	}
	api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		mu.Lock()
		calls = append(calls, "records")
		mu.Unlock()
		once.Do(func() {
			stream.add("a", 10)
			stream.add("b", 20)
			stream.add("c", 30)
		})
		return records(ctx, in)
	}
	fn := &fakeFunction{}
	opts := testOptions()
	opts.Start = Latest
	opts.MaxShards = 3
	runPoller(t, New(api, fn, opts))

	var got []int
	for _, b := range fn.got() {
		got = append(got, b...)
	}
	sort.Ints(got)
	assert.Equal(t, []int{10, 20, 30}, got)
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(calls), 4)
	assert.ElementsMatch(t, []string{"iterator a", "iterator b", "iterator c"}, calls[:3], "every LATEST iterator before the first read: %v", calls)
	assert.Equal(t, []string{"a LATEST", "b LATEST", "c LATEST"}, stream.iterators)
}

// TestPoller_Run_LatestChildOfOpenParent: a shard whose parent is still
// open when the run starts is read after its parent from its beginning, as
// a child created later is, rather than from a LATEST position taken only
// once the parent is drained.
func TestPoller_Run_LatestChildOfOpenParent(t *testing.T) {
	stream := newFakeStream(
		&fakeShard{id: "parent", seqs: []int{1, 2}},
		&fakeShard{id: "child", parent: "parent", seqs: []int{10}},
	)
	api := stream.api()
	records := api.getRecords
	var once sync.Once
	api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		if strings.HasPrefix(aws.ToString(in.ShardIterator), "parent/") {
			once.Do(func() {
				stream.add("parent", 3)
				stream.add("child", 11)
				stream.mu.Lock()
				stream.shard("parent").closed = true
				stream.mu.Unlock()
			})
		}
		return records(ctx, in)
	}
	fn := &fakeFunction{}
	opts := testOptions()
	opts.Start = Latest
	opts.MaxShards = 1 // the child waits, but not at LATEST
	runPoller(t, New(api, fn, opts))
	var got []int
	for _, b := range fn.got() {
		got = append(got, b...)
	}
	assert.Equal(t, []int{3, 10, 11}, got)
	assert.Equal(t, []string{"parent LATEST", "child TRIM_HORIZON"}, stream.iterators)
}

// TestPoller_Run_LatestIteratorExpired: a LATEST iterator that expires
// before any record was read cannot be renewed without skipping records,
// so Run stops with an error.
func TestPoller_Run_LatestIteratorExpired(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1}})
	api := stream.api()
	api.getRecords = func(context.Context, *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		return nil, &streamtypes.ExpiredIteratorException{Message: aws.String("expired")}
	}
	opts := testOptions()
	opts.Start = Latest
	err := New(api, &fakeFunction{}, opts).Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read shard s: its LATEST iterator expired before any record was read")
	assert.Equal(t, []string{"s LATEST"}, stream.iterators, "no second LATEST iterator")
}
