package ddbstub

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const table = "target"

func item(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: pk},
		"note": &types.AttributeValueMemberS{Value: `a "quoted" {brace} [bracket] \ backslash`},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{}}},
	}
}

func batch(puts []string, deletes ...string) *dynamodb.BatchWriteItemInput {
	var reqs []types.WriteRequest
	for _, pk := range puts {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(pk)}})
	}
	for _, pk := range deletes {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
		}})
	}
	return &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}
}

// pkOf returns the "pk" of a put or delete request.
func pkOf(r types.WriteRequest) string {
	m := map[string]types.AttributeValue{}
	if r.PutRequest != nil {
		m = r.PutRequest.Item
	}
	if r.DeleteRequest != nil {
		m = r.DeleteRequest.Key
	}
	if s, ok := m["pk"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func TestServer_Client(t *testing.T) {
	tests := map[string]struct {
		latency time.Duration
		answer  Answer
		// call makes one SDK call and returns the unprocessed requests' keys.
		call            func(ctx context.Context, c *dynamodb.Client) ([]string, error)
		wantCall        Call
		wantCode        string
		wantUnprocessed []string
		want            Stats
	}{
		"PutItem after latency": {
			latency: 5 * time.Millisecond,
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
				return nil, err
			},
			wantCall: Call{Op: OpPutItem, Seq: 1, Items: 1},
			want:     Stats{PutItem: 1, Items: 1},
		},
		"DeleteItem": {
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
					TableName: aws.String(table),
					Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
				})
				return nil, err
			},
			wantCall: Call{Op: OpDeleteItem, Seq: 1, Items: 1},
			want:     Stats{DeleteItem: 1, Items: 1},
		},
		"BatchWriteItem": {
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				out, err := c.BatchWriteItem(ctx, batch([]string{"a", "b", "c"}, "d"))
				if err != nil {
					return nil, err
				}
				assert.Empty(t, out.UnprocessedItems)
				return nil, nil
			},
			wantCall: Call{Op: OpBatchWriteItem, Seq: 1, Items: 4},
			want:     Stats{BatchWriteItem: 1, Items: 4},
		},
		"BatchWriteItem with unprocessed items": {
			answer: Answer{Unprocessed: 2},
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				out, err := c.BatchWriteItem(ctx, batch([]string{"a", "b", "c"}, "d"))
				if err != nil {
					return nil, err
				}
				var pks []string
				for _, r := range out.UnprocessedItems[table] {
					pks = append(pks, pkOf(r))
				}
				return pks, nil
			},
			wantCall:        Call{Op: OpBatchWriteItem, Seq: 1, Items: 4},
			wantUnprocessed: []string{"c", "d"},
			want:            Stats{BatchWriteItem: 1, Items: 2, Unprocessed: 2},
		},
		"throttled PutItem": {
			answer: Answer{Err: Throttle()},
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
				return nil, err
			},
			wantCall: Call{Op: OpPutItem, Seq: 1, Items: 1},
			wantCode: "ProvisionedThroughputExceededException",
			want:     Stats{PutItem: 1, Errors: 1},
		},
		"throttled BatchWriteItem": {
			answer: Answer{Err: Throttle()},
			call: func(ctx context.Context, c *dynamodb.Client) ([]string, error) {
				_, err := c.BatchWriteItem(ctx, batch([]string{"a", "b"}))
				return nil, err
			},
			wantCall: Call{Op: OpBatchWriteItem, Seq: 1, Items: 2},
			wantCode: "ProvisionedThroughputExceededException",
			want:     Stats{BatchWriteItem: 1, Errors: 1},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				calls []Call
			)
			s := New(Options{Latency: tt.latency, Answer: func(c Call) Answer {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, c)
				return tt.answer
			}})
			t.Cleanup(s.Close)

			start := time.Now()
			unprocessed, err := tt.call(t.Context(), s.Client(t))
			elapsed := time.Since(start)

			if tt.wantCode == "" {
				require.NoError(t, err)
			} else {
				var apiErr smithy.APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, tt.wantCode, apiErr.ErrorCode())
				var throttled *types.ProvisionedThroughputExceededException
				assert.Equal(t, tt.wantCode == "ProvisionedThroughputExceededException", errors.As(err, &throttled))
			}
			assert.Equal(t, tt.wantUnprocessed, unprocessed)
			assert.Equal(t, []Call{tt.wantCall}, calls)
			assert.Equal(t, tt.want, s.Stats())
			assert.GreaterOrEqual(t, elapsed, tt.latency)
		})
	}
}

func TestServer_NoAnswerHook(t *testing.T) {
	s := New(Options{})
	t.Cleanup(s.Close)
	c := s.Client(t)

	out, err := c.BatchWriteItem(t.Context(), batch([]string{"a", "b"}, "c"))
	require.NoError(t, err)
	assert.Empty(t, out.UnprocessedItems)
	assert.Equal(t, Stats{BatchWriteItem: 1, Items: 3}, s.Stats())
}

func TestRequestCounter_Scan(t *testing.T) {
	tests := map[string]struct {
		body string
		want int
	}{
		"empty request":  {body: `{"RequestItems":{}}`, want: 0},
		"empty table":    {body: `{"RequestItems":{"t":[]}}`, want: 0},
		"one put":        {body: `{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"a"}}}}]}}`, want: 1},
		"two tables":     {body: `{"RequestItems":{"t":[{"PutRequest":{}},{"DeleteRequest":{}}],"u":[{"PutRequest":{}}]}}`, want: 3},
		"other fields":   {body: `{"ReturnConsumedCapacity":"TOTAL","RequestItems":{"t":[{"PutRequest":{}}]}}`, want: 1},
		"braces in text": {body: `{"RequestItems":{"t":[{"PutRequest":{"Item":{"s":{"S":"}]{[\"{"}}}}]}}`, want: 1},
		"nested lists": {
			body: `{"RequestItems":{"t":[{"PutRequest":{"Item":{"l":{"L":[{"M":{}},{"L":[{"S":"x"}]}]}}}}]}}`,
			want: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var whole requestCounter
			whole.scan([]byte(tt.body))
			assert.Equal(t, tt.want, whole.n)

			var bytewise requestCounter
			for i := range len(tt.body) {
				bytewise.scan([]byte(tt.body[i : i+1]))
			}
			assert.Equal(t, tt.want, bytewise.n)
		})
	}
}

// TestServer_CRC32 checks that every answer carries X-Amz-Crc32, the CRC32
// of its body, as DynamoDB's do: without it the SDK logs a checksum
// warning per call.
func TestServer_CRC32(t *testing.T) {
	tests := map[string]Options{
		"success":     {},
		"unprocessed": {Answer: func(Call) Answer { return Answer{Unprocessed: 1} }},
		"error":       {Answer: func(Call) Answer { return Answer{Err: Throttle()} }},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(opts)
			t.Cleanup(s.Close)
			body := `{"RequestItems":{"target":[{"PutRequest":{"Item":{"pk":{"S":"a"}}}}]}}`
			req, err := http.NewRequest(http.MethodPost, s.URL(), strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.BatchWriteItem")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NotEmpty(t, resp.Header.Get("X-Amz-Crc32"), "X-Amz-Crc32 header")
			assert.Equal(t, strconv.FormatUint(uint64(crc32.ChecksumIEEE(got)), 10), resp.Header.Get("X-Amz-Crc32"))
		})
	}
}
