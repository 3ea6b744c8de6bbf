package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// fakeAPI is a func-field fake of API; it records every call's requests.
type fakeAPI struct {
	mu         sync.Mutex
	batchCalls [][]types.WriteRequest
	singles    []replicate.Op
	batch      func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error)
	put        func(item map[string]types.AttributeValue) error
	del        func(key map[string]types.AttributeValue) error
}

func (f *fakeAPI) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	reqs := in.RequestItems["target"]
	f.batchCalls = append(f.batchCalls, reqs)
	call := len(f.batchCalls)
	f.mu.Unlock()
	return f.batch(call, reqs)
}

func (f *fakeAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	f.singles = append(f.singles, replicate.OpPut)
	f.mu.Unlock()
	return &dynamodb.PutItemOutput{}, f.put(in.Item)
}

func (f *fakeAPI) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.mu.Lock()
	f.singles = append(f.singles, replicate.OpDelete)
	f.mu.Unlock()
	return &dynamodb.DeleteItemOutput{}, f.del(in.Key)
}

func ok(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " from test"}
}

func http5xx() error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: apiErr("InternalServerError")}
}

func writes(n int) []replicate.Write {
	ws := make([]replicate.Write, n)
	for i := range ws {
		key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: fmt.Sprint("k", i)}}
		id, _ := replicate.KeyID(key)
		ws[i] = replicate.Write{Op: replicate.OpPut, Key: key, KeyID: id,
			Item: map[string]types.AttributeValue{"pk": key["pk"], "v": &types.AttributeValueMemberN{Value: "1"}}}
	}
	ws[n-1].Op, ws[n-1].Item = replicate.OpDelete, nil
	return ws
}

func pkOf(r types.WriteRequest) string {
	if r.PutRequest != nil {
		return r.PutRequest.Item["pk"].(*types.AttributeValueMemberS).Value
	}
	return r.DeleteRequest.Key["pk"].(*types.AttributeValueMemberS).Value
}

func pks(reqs []types.WriteRequest) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = pkOf(r)
	}
	return out
}

func fastTable(api API) *Table {
	return NewTable(api, "target", Options{Retry: retry.Policy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
}

func TestTable_WriteBatch(t *testing.T) {
	tests := map[string]struct {
		api         *fakeAPI
		n           int
		wantErrs    []string // "" for applied; substring of the error otherwise
		wantCalls   [][]string
		wantRetries int
		wantSingles int
	}{
		"all applied": {
			api: &fakeAPI{batch: ok}, n: 3,
			wantCalls: [][]string{{"k0", "k1", "k2"}},
		},
		"unprocessed items are re-sent until applied": {
			api: &fakeAPI{batch: func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				if call == 1 { // leave k1 and k2 (the delete) unprocessed
					return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"target": reqs[1:]}}, nil
				}
				if call == 2 { // then k2 again
					return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"target": reqs[1:]}}, nil
				}
				return ok(call, reqs)
			}},
			n:           3,
			wantCalls:   [][]string{{"k0", "k1", "k2"}, {"k1", "k2"}, {"k2"}},
			wantRetries: 3,
		},
		"unprocessed until attempts run out": {
			api: &fakeAPI{batch: func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"target": reqs[:1]}}, nil
			}},
			n:           2,
			wantErrs:    []string{"retries exhausted after 4 attempts: 1 items unprocessed", ""},
			wantCalls:   [][]string{{"k0", "k1"}, {"k0"}, {"k0"}, {"k0"}},
			wantRetries: 3,
		},
		"unmatched unprocessed item re-sends everything": {
			api: &fakeAPI{batch: func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				if call == 1 {
					odd := types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "stranger"}}}}
					return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"target": {odd}}}, nil
				}
				return ok(call, reqs)
			}},
			n:           2,
			wantCalls:   [][]string{{"k0", "k1"}, {"k0", "k1"}},
			wantRetries: 2,
		},
		"throttling is retried": {
			api: &fakeAPI{batch: func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				switch call {
				case 1:
					return nil, apiErr("ProvisionedThroughputExceededException")
				case 2:
					return nil, apiErr("ThrottlingException")
				case 3:
					return nil, apiErr("RequestLimitExceeded")
				}
				return ok(call, reqs)
			}},
			n:           2,
			wantCalls:   [][]string{{"k0", "k1"}, {"k0", "k1"}, {"k0", "k1"}, {"k0", "k1"}},
			wantRetries: 6,
		},
		"5xx is retried": {
			api: &fakeAPI{batch: func(call int, reqs []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				if call == 1 {
					return nil, http5xx()
				}
				return ok(call, reqs)
			}},
			n:           1,
			wantCalls:   [][]string{{"k0"}, {"k0"}},
			wantRetries: 1,
		},
		"throttled until attempts run out": {
			api: &fakeAPI{batch: func(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				return nil, apiErr("ProvisionedThroughputExceededException")
			}},
			n:           2,
			wantErrs:    []string{"retries exhausted after 4 attempts", "retries exhausted after 4 attempts"},
			wantCalls:   [][]string{{"k0", "k1"}, {"k0", "k1"}, {"k0", "k1"}, {"k0", "k1"}},
			wantRetries: 6,
		},
		"non-retryable error fails every write": {
			api: &fakeAPI{batch: func(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
				return nil, apiErr("ResourceNotFoundException")
			}},
			n:         2,
			wantErrs:  []string{"ResourceNotFoundException", "ResourceNotFoundException"},
			wantCalls: [][]string{{"k0", "k1"}},
		},
		"validation error isolates the poison write": {
			api: &fakeAPI{
				batch: func(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
					return nil, apiErr("ValidationException")
				},
				put: func(item map[string]types.AttributeValue) error {
					if item["pk"].(*types.AttributeValueMemberS).Value == "k1" {
						return apiErr("ValidationException")
					}
					return nil
				},
				del: func(map[string]types.AttributeValue) error { return nil },
			},
			n:           3,
			wantErrs:    []string{"", "put item: api error ValidationException", ""},
			wantCalls:   [][]string{{"k0", "k1", "k2"}},
			wantSingles: 3,
		},
		"single writes retry throttling too": {
			api: &fakeAPI{
				batch: func(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
					return nil, apiErr("ValidationException")
				},
				put: func() func(map[string]types.AttributeValue) error {
					n := 0
					return func(map[string]types.AttributeValue) error {
						if n++; n == 1 {
							return apiErr("ThrottlingException")
						}
						return nil
					}
				}(),
				del: func(map[string]types.AttributeValue) error { return nil },
			},
			n:           2,
			wantCalls:   [][]string{{"k0", "k1"}},
			wantRetries: 1,
			wantSingles: 3,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			errs, retries := fastTable(tt.api).WriteBatch(context.Background(), writes(tt.n))
			if tt.wantErrs == nil {
				assert.Nil(t, errs)
			} else {
				require.Len(t, errs, tt.n)
				for i, want := range tt.wantErrs {
					if want == "" {
						assert.NoError(t, errs[i], "write %d", i)
					} else {
						assert.ErrorContains(t, errs[i], want, "write %d", i)
					}
				}
			}
			calls := make([][]string, len(tt.api.batchCalls))
			for i, c := range tt.api.batchCalls {
				calls[i] = pks(c)
			}
			assert.Equal(t, tt.wantCalls, calls)
			assert.Equal(t, tt.wantRetries, retries)
			assert.Len(t, tt.api.singles, tt.wantSingles)
		})
	}
}

func TestTable_WriteBatch_StopsBeforeDeadline(t *testing.T) {
	api := &fakeAPI{batch: func(int, []types.WriteRequest) (*dynamodb.BatchWriteItemOutput, error) {
		return nil, apiErr("ThrottlingException")
	}}
	tbl := NewTable(api, "target", Options{Retry: retry.Policy{MaxAttempts: 100, BaseDelay: 50 * time.Millisecond, MaxDelay: 50 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	errs, _ := tbl.WriteBatch(ctx, writes(1))
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.DeadlineExceeded)
	assert.Less(t, len(api.batchCalls), 100, "backoff must stop at the deadline, not use every attempt")
}

func TestRetryable(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"provisioned throughput": {apiErr("ProvisionedThroughputExceededException"), true},
		"throttling":             {apiErr("ThrottlingException"), true},
		"request limit":          {apiErr("RequestLimitExceeded"), true},
		"500":                    {http5xx(), true},
		"validation":             {apiErr("ValidationException"), false},
		"conditional":            {&types.ConditionalCheckFailedException{}, false},
		"canceled":               {context.Canceled, false},
		"deadline":               {fmt.Errorf("op: %w", context.DeadlineExceeded), false},
		"plain":                  {errors.New("boom"), false},
		"nil":                    {nil, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, Retryable(tt.err))
		})
	}
}
