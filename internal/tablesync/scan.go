package tablesync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// Limits of parallel Scans
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan).
const (
	// DefaultSegments is the default number of Scan segments.
	DefaultSegments = 8
	// MaxSegments bounds the number of Scan segments (DynamoDB allows
	// 1,000,000; more than this only adds overhead).
	MaxSegments = 4096
	// DefaultConcurrency is how many segments are read at once by default
	// (at most the number of segments).
	DefaultConcurrency = 16
	// MaxConcurrency bounds the segments read at once.
	MaxConcurrency = 256
)

// ErrSegments is returned for an invalid segment count or range.
var ErrSegments = errors.New("invalid segments")

// Segments says which Scan segments to read.
type Segments struct {
	// Total is Scan's TotalSegments (default DefaultSegments).
	Total int
	// Only lists the segments to read, each in [0, Total); nil means all.
	// Several machines can split one table by reading disjoint lists.
	Only []int
	// Concurrency is how many segments are read at once (default
	// DefaultConcurrency, at most Total).
	Concurrency int
}

// list validates s and returns the segments to read, and the concurrency.
func (s Segments) list() (segs []int, concurrency int, err error) {
	total := s.Total
	if total == 0 {
		total = DefaultSegments
	}
	if total < 1 || total > MaxSegments {
		return nil, 0, fmt.Errorf("%w: total %d not in 1-%d", ErrSegments, total, MaxSegments)
	}
	if s.Only == nil {
		segs = make([]int, total)
		for i := range segs {
			segs[i] = i
		}
	} else {
		seen := map[int]bool{}
		for _, seg := range s.Only {
			if seg < 0 || seg >= total {
				return nil, 0, fmt.Errorf("%w: segment %d not in 0-%d", ErrSegments, seg, total-1)
			}
			if !seen[seg] {
				seen[seg] = true
				segs = append(segs, seg)
			}
		}
		if len(segs) == 0 {
			return nil, 0, fmt.Errorf("%w: no segment to read", ErrSegments)
		}
	}
	concurrency = s.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	concurrency = min(concurrency, MaxConcurrency, len(segs))
	return segs, concurrency, nil
}

func (s Segments) total() int {
	if s.Total == 0 {
		return DefaultSegments
	}
	return s.Total
}

// page is one Scan page.
type page struct {
	items []Item
	next  Item // LastEvaluatedKey; nil at the segment's end
}

// scanner reads segments of one table.
type scanner struct {
	api        Scanner
	table      string
	total      int
	pageSize   int32
	consistent bool
	keysOnly   keySchema    // if set, read only these key attributes
	alsoRead   []string     // with keysOnly, attributes read besides the keys
	limiter    *rateLimiter // read units; may be nil
	retry      RetryOptions
}

// pages scans segment seg from after start (nil: from its beginning) and
// sends each page to out, which it closes when done.
func (s *scanner) pages(ctx context.Context, seg int, start Item, out chan<- page) error {
	defer close(out)
	in := &dynamodb.ScanInput{
		TableName:         aws.String(s.table),
		ExclusiveStartKey: start,
		ConsistentRead:    aws.Bool(s.consistent),
	}
	if s.total > 1 {
		in.Segment, in.TotalSegments = aws.Int32(int32(seg)), aws.Int32(int32(s.total))
	}
	if s.pageSize > 0 {
		in.Limit = aws.Int32(s.pageSize)
	}
	if s.limiter != nil {
		in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	}
	if s.keysOnly != nil {
		proj, names := s.keysOnly.projection(s.alsoRead...)
		in.ProjectionExpression, in.ExpressionAttributeNames = aws.String(proj), names
	}
	for {
		var resp *dynamodb.ScanOutput
		err := dynamo.Retry(ctx, s.retry, func() (err error) {
			resp, err = s.api.Scan(ctx, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("scan %s segment %d: %w", s.table, seg, err)
		}
		units := scanReadUnits(resp.Items, s.consistent)
		if c := resp.ConsumedCapacity; c != nil && c.CapacityUnits != nil {
			units = *c.CapacityUnits
		}
		if err := s.limiter.wait(ctx, units); err != nil {
			return err
		}
		select {
		case out <- page{items: resp.Items, next: resp.LastEvaluatedKey}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if len(resp.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = resp.LastEvaluatedKey
	}
}

// prefetch starts scanning segment seg in the background, one page ahead
// of the consumer. The consumer must drain the channel or cancel ctx, then
// call wait for the scan's error.
func (s *scanner) prefetch(ctx context.Context, seg int, start Item) (pages <-chan page, wait func() error) {
	ch := make(chan page, 1)
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = s.pages(ctx, seg, start, ch)
	}()
	return ch, func() error { <-done; return err }
}

// runSegments calls fn for each segment, concurrency at a time. The first
// error cancels the others' context and is returned.
func runSegments(ctx context.Context, segs []int, concurrency int, fn func(ctx context.Context, seg int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range concurrency {
		wg.Go(func() {
			for seg := range todo {
				if err := fn(ctx, seg); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel(err)
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for _, seg := range segs {
		select {
		case todo <- seg:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}
