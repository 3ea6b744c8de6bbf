package streampoll

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"
)

// fakeAPI is a func-field fake of API.
type fakeAPI struct {
	describeStream   func(ctx context.Context, in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error)
	getShardIterator func(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error)
	getRecords       func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ API = (*fakeAPI)(nil)

func (f *fakeAPI) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	return f.describeStream(ctx, in)
}

func (f *fakeAPI) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return f.getShardIterator(ctx, in)
}

func (f *fakeAPI) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	return f.getRecords(ctx, in)
}

const testStreamARN = "arn:aws:dynamodb:ddblocal:000000000000:table/src/stream/2026-01-01T00:00:00.000"

// fakeShard is a shard of a fakeStream: its records' sequence numbers.
type fakeShard struct {
	id, parent string
	seqs       []int
	closed     bool
}

// fakeStream is an in-memory stream behind a fakeAPI. Iterators are
// "shard/index"; DescribeStream returns pageSize shards a page.
type fakeStream struct {
	mu       sync.Mutex
	shards   []*fakeShard
	pageSize int
	// iterators records each GetShardIterator call as "shard TYPE seq".
	iterators []string
	// created sets the ApproximateCreationDateTime of some records, by
	// sequence number (default: the same time for all).
	created map[int]time.Time
}

func newFakeStream(shards ...*fakeShard) *fakeStream {
	return &fakeStream{shards: shards, pageSize: 2}
}

func (s *fakeStream) api() *fakeAPI {
	return &fakeAPI{describeStream: s.describe, getShardIterator: s.iterator, getRecords: s.records}
}

// add appends records to an open shard, as writes to the table would.
func (s *fakeStream) add(shardID string, seqs ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shard(shardID).seqs = append(s.shard(shardID).seqs, seqs...)
}

func (s *fakeStream) shard(id string) *fakeShard {
	for _, sh := range s.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

func (s *fakeStream) describe(_ context.Context, in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if aws.ToString(in.StreamArn) != testStreamARN {
		return nil, &streamtypes.ResourceNotFoundException{Message: aws.String("no stream")}
	}
	start := 0
	if in.ExclusiveStartShardId != nil {
		for i, sh := range s.shards {
			if sh.id == *in.ExclusiveStartShardId {
				start = i + 1
			}
		}
	}
	desc := &streamtypes.StreamDescription{StreamArn: in.StreamArn, StreamStatus: streamtypes.StreamStatusEnabled}
	for i := start; i < len(s.shards) && i < start+s.pageSize; i++ {
		sh := s.shards[i]
		rng := &streamtypes.SequenceNumberRange{StartingSequenceNumber: aws.String(seqString(sh.firstSeq()))}
		if sh.closed {
			rng.EndingSequenceNumber = aws.String(seqString(sh.seqs[len(sh.seqs)-1]))
		}
		out := streamtypes.Shard{ShardId: aws.String(sh.id), SequenceNumberRange: rng}
		if sh.parent != "" {
			out.ParentShardId = aws.String(sh.parent)
		}
		desc.Shards = append(desc.Shards, out)
		if i == start+s.pageSize-1 && i < len(s.shards)-1 {
			desc.LastEvaluatedShardId = aws.String(sh.id)
		}
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: desc}, nil
}

func (sh *fakeShard) firstSeq() int {
	if len(sh.seqs) == 0 {
		return 0
	}
	return sh.seqs[0]
}

func (s *fakeStream) iterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shard(aws.ToString(in.ShardId))
	if sh == nil {
		return nil, &streamtypes.ResourceNotFoundException{Message: aws.String("no shard")}
	}
	s.iterators = append(s.iterators, strings.TrimSpace(fmt.Sprintf("%s %s %s", sh.id, in.ShardIteratorType, aws.ToString(in.SequenceNumber))))
	pos := 0
	switch in.ShardIteratorType {
	case streamtypes.ShardIteratorTypeLatest:
		pos = len(sh.seqs)
	case streamtypes.ShardIteratorTypeAfterSequenceNumber, streamtypes.ShardIteratorTypeAtSequenceNumber:
		want, _ := strconv.Atoi(aws.ToString(in.SequenceNumber))
		for pos < len(sh.seqs) && sh.seqs[pos] < want {
			pos++
		}
		if in.ShardIteratorType == streamtypes.ShardIteratorTypeAfterSequenceNumber && pos < len(sh.seqs) && sh.seqs[pos] == want {
			pos++
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", sh.id, pos))}, nil
}

func (s *fakeStream) records(_ context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, posText, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	pos, _ := strconv.Atoi(posText)
	sh := s.shard(id)
	end := min(len(sh.seqs), pos+int(aws.ToInt32(in.Limit)))
	out := &dynamodbstreams.GetRecordsOutput{}
	for _, seq := range sh.seqs[pos:end] {
		rec := streamRecordFor(seq)
		if t, ok := s.created[seq]; ok {
			rec.Dynamodb.ApproximateCreationDateTime = &t
		}
		out.Records = append(out.Records, rec)
	}
	if !sh.closed || end < len(sh.seqs) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s/%d", id, end))
	}
	return out, nil
}

// seqString spells a small test sequence number as DynamoDB Local would.
func seqString(n int) string { return fmt.Sprintf("%021d", n) }

// streamRecordFor returns an INSERT record for key "k<seq>".
func streamRecordFor(seq int) streamtypes.Record {
	key := map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "k" + strconv.Itoa(seq)}}
	created := time.Unix(1795000000, 0)
	return streamtypes.Record{
		AwsRegion:    aws.String("ddblocal"),
		EventID:      aws.String("ev" + strconv.Itoa(seq)),
		EventName:    streamtypes.OperationTypeInsert,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		Dynamodb: &streamtypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        key,
			NewImage:                    key,
			SequenceNumber:              aws.String(seqString(seq)),
			SizeBytes:                   aws.Int64(10),
			StreamViewType:              streamtypes.StreamViewTypeNewAndOldImages,
		},
	}
}

// fakeFunction is an Invoker that records each batch's sequence numbers and
// answers with respond (default: success).
type fakeFunction struct {
	mu      sync.Mutex
	batches [][]int
	respond func(call int, seqs []int) ([]byte, error)
}

func (f *fakeFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev struct {
		Records []struct {
			Change struct {
				SequenceNumber string
			} `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	seqs := make([]int, len(ev.Records))
	for i, r := range ev.Records {
		seqs[i], _ = strconv.Atoi(r.Change.SequenceNumber)
	}
	f.mu.Lock()
	f.batches = append(f.batches, seqs)
	call := len(f.batches)
	f.mu.Unlock()
	if f.respond == nil {
		return []byte(`{"batchItemFailures":[]}`), nil
	}
	return f.respond(call, seqs)
}

func (f *fakeFunction) got() [][]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]int(nil), f.batches...)
}

// failAt answers a partial batch failure at seq.
func failAt(seq int) []byte {
	return []byte(`{"batchItemFailures":[{"itemIdentifier":"` + seqString(seq) + `"}]}`)
}

// testOptions are fast options for unit tests.
func testOptions() Options {
	return Options{
		StreamARN:      testStreamARN,
		MaxRetries:     DefaultMaxRetries,
		PollInterval:   5 * time.Millisecond,
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  2 * time.Millisecond,
		StopWhenIdle:   50 * time.Millisecond,
	}
}

// runPoller runs p until it stops by itself, failing tb after a deadline.
func runPoller(tb testing.TB, p *Poller) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	require.NoError(tb, p.Run(ctx))
	require.NoError(tb, ctx.Err(), "the poller did not stop when idle")
}
