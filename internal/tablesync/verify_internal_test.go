package tablesync

import (
	"context"
	"errors"
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

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
)

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestClassify(t *testing.T) {
	k := Item{"pk": sv("a")}
	with := func(name string, v types.AttributeValue) Item { return Item{"pk": sv("a"), name: v} }
	tests := map[string]struct {
		pass      sideID
		src, dst  Item
		wantDiff  bool
		wantKind  string
		wantAttrs []string
	}{
		"equal":                            {pass: sourceSide, src: with("n", nv("1")), dst: with("n", nv("1"))},
		"1E+2 equals 100":                  {pass: sourceSide, src: with("n", nv("1E+2")), dst: with("n", nv("100"))},
		"100.0 equals 1e2":                 {pass: sourceSide, src: with("n", nv("100.0")), dst: with("n", nv("1e2"))},
		"-0 equals 0":                      {pass: sourceSide, src: with("n", nv("-0")), dst: with("n", nv("0"))},
		"0.1 is not 0.10000000000000001":   {pass: sourceSide, src: with("n", nv("0.1")), dst: with("n", nv("0.10000000000000001")), wantDiff: true, wantKind: "different", wantAttrs: []string{"n"}},
		"38 digits compare exactly":        {pass: sourceSide, src: with("n", nv("12345678901234567890123456789012345678")), dst: with("n", nv("12345678901234567890123456789012345679")), wantDiff: true, wantKind: "different", wantAttrs: []string{"n"}},
		"string set in another order":      {pass: sourceSide, src: with("ss", &types.AttributeValueMemberSS{Value: []string{"a", "b", "c"}}), dst: with("ss", &types.AttributeValueMemberSS{Value: []string{"c", "a", "b"}})},
		"number set spelled otherwise":     {pass: sourceSide, src: with("ns", &types.AttributeValueMemberNS{Value: []string{"1E+2", "0.5"}}), dst: with("ns", &types.AttributeValueMemberNS{Value: []string{"5E-1", "100"}})},
		"binary set in another order":      {pass: sourceSide, src: with("bs", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}}), dst: with("bs", &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}})},
		"set member missing":               {pass: sourceSide, src: with("ss", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}), dst: with("ss", &types.AttributeValueMemberSS{Value: []string{"a"}}), wantDiff: true, wantKind: "different", wantAttrs: []string{"ss"}},
		"list order matters":               {pass: sourceSide, src: with("l", &types.AttributeValueMemberL{Value: []types.AttributeValue{nv("1"), nv("2")}}), dst: with("l", &types.AttributeValueMemberL{Value: []types.AttributeValue{nv("2"), nv("1")}}), wantDiff: true, wantKind: "different", wantAttrs: []string{"l"}},
		"nested map numbers":               {pass: sourceSide, src: with("m", &types.AttributeValueMemberM{Value: Item{"x": nv("1.50")}}), dst: with("m", &types.AttributeValueMemberM{Value: Item{"x": nv("15E-1")}})},
		"type differs":                     {pass: sourceSide, src: with("v", nv("1")), dst: with("v", sv("1")), wantDiff: true, wantKind: "different", wantAttrs: []string{"v"}},
		"attribute only in target":         {pass: sourceSide, src: k, dst: with("extra", sv("x")), wantDiff: true, wantKind: "different", wantAttrs: []string{"extra"}},
		"missing from target":              {pass: sourceSide, src: with("n", nv("1")), wantDiff: true, wantKind: "missing"},
		"source pass ignores deleted item": {pass: sourceSide, dst: with("n", nv("1"))},
		"extra in target":                  {pass: targetSide, dst: with("n", nv("1")), wantDiff: true, wantKind: "extra"},
		"target pass ignores differences":  {pass: targetSide, src: with("n", nv("1")), dst: with("n", nv("2"))},
		"target pass: gone from both":      {pass: targetSide},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d, differ := classify(tt.pass, k, tt.src, tt.dst)
			assert.Equal(t, tt.wantDiff, differ)
			if tt.wantDiff {
				assert.Equal(t, tt.wantKind, string(d.Kind))
				assert.Equal(t, tt.wantAttrs, d.Attributes)
				assert.Equal(t, k, d.Key)
			}
		})
	}
}

// fakeReader is a func-field fake of TableReader for the retry paths.
type fakeReader struct {
	mu       sync.Mutex
	calls    [][]Item
	batchGet func(call int, keys []Item) (*dynamodb.BatchGetItemOutput, error)
}

func (f *fakeReader) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return nil, errors.New("not used")
}

func (f *fakeReader) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, errors.New("not used")
}

func (f *fakeReader) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	keys := in.RequestItems["t"].Keys
	f.calls = append(f.calls, keys)
	call := len(f.calls)
	f.mu.Unlock()
	return f.batchGet(call, keys)
}

func keysN(n int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{"pk": sv(string(rune('a' + i)))}
	}
	return out
}

func answer(found []Item, unprocessed []Item) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]Item{"t": found}}
	if len(unprocessed) > 0 {
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{"t": {Keys: unprocessed}}
	}
	return out, nil
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func TestGetter_Get(t *testing.T) {
	tests := map[string]struct {
		batchGet  func(call int, keys []Item) (*dynamodb.BatchGetItemOutput, error)
		wantFound int
		wantCalls []int // keys per call
		wantErr   string
	}{
		"all answered": {
			batchGet:  func(_ int, keys []Item) (*dynamodb.BatchGetItemOutput, error) { return answer(keys, nil) },
			wantFound: 3, wantCalls: []int{3},
		},
		"absent keys are not found": {
			batchGet:  func(_ int, keys []Item) (*dynamodb.BatchGetItemOutput, error) { return answer(keys[:1], nil) },
			wantFound: 1, wantCalls: []int{3},
		},
		"unprocessed keys are asked again": {
			batchGet: func(call int, keys []Item) (*dynamodb.BatchGetItemOutput, error) {
				if call == 1 {
					return answer(keys[:1], keys[1:])
				}
				return answer(keys, nil)
			},
			wantFound: 3, wantCalls: []int{3, 2},
		},
		"unprocessed without progress until attempts run out": {
			batchGet:  func(_ int, keys []Item) (*dynamodb.BatchGetItemOutput, error) { return answer(nil, keys) },
			wantCalls: []int{3, 3, 3, 3}, wantErr: "retries exhausted after 4 attempts: 3 keys unprocessed",
		},
		"throttling is retried": {
			batchGet: func(call int, keys []Item) (*dynamodb.BatchGetItemOutput, error) {
				if call < 3 {
					return nil, apiErr("ProvisionedThroughputExceededException")
				}
				return answer(keys, nil)
			},
			wantFound: 3, wantCalls: []int{3, 3, 3},
		},
		"other errors are not": {
			batchGet: func(int, []Item) (*dynamodb.BatchGetItemOutput, error) {
				return nil, apiErr("ResourceNotFoundException")
			},
			wantCalls: []int{3}, wantErr: "ResourceNotFoundException",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeReader{batchGet: tt.batchGet}
			g := &getter{api: f, table: "t", keys: keySchema{"pk"}, retry: RetryOptions{MaxAttempts: 4, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond}}
			found, err := g.get(t.Context(), keysN(3), true)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				assert.Len(t, found, tt.wantFound)
			}
			var calls []int
			for _, c := range f.calls {
				calls = append(calls, len(c))
			}
			assert.Equal(t, tt.wantCalls, calls)
		})
	}
}

func TestCondition(t *testing.T) {
	key := Item{"pk": sv("a"), "sk": nv("1")}
	tests := map[string]struct {
		item       Item
		wantExpr   string
		wantNames  map[string]string
		wantValues int
	}{
		"absent item": {
			wantExpr: "attribute_not_exists(#k)", wantNames: map[string]string{"#k": "pk"},
		},
		"key only": {
			item: Item{"pk": sv("a"), "sk": nv("1")}, wantExpr: "attribute_exists(#k) AND attribute_not_exists(#r0) AND attribute_not_exists(#r1)",
			wantNames: map[string]string{"#k": "pk", "#r0": "_ddbsync_seq", "#r1": "_ddbsync_deleted"},
		},
		"the sequence attribute first": {
			item:       Item{"pk": sv("a"), "sk": nv("1"), "zeta": sv("z"), "_ddbsync_seq": sv("0010")},
			wantExpr:   "attribute_exists(#k) AND #a4 = :v4 AND attribute_not_exists(#r1) AND #a3 = :v3",
			wantNames:  map[string]string{"#k": "pk", "#a4": "_ddbsync_seq", "#r1": "_ddbsync_deleted", "#a3": "zeta"},
			wantValues: 2,
		},
		"every non-key attribute, in name order": {
			item:       Item{"pk": sv("a"), "sk": nv("1"), "zeta": sv("z"), "alpha": nv("2")},
			wantExpr:   "attribute_exists(#k) AND attribute_not_exists(#r0) AND attribute_not_exists(#r1) AND #a0 = :v0 AND #a3 = :v3",
			wantNames:  map[string]string{"#k": "pk", "#r0": "_ddbsync_seq", "#r1": "_ddbsync_deleted", "#a0": "alpha", "#a3": "zeta"},
			wantValues: 2,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			expr, names, values := condition(key, tt.item, replattr.Names{})
			assert.Equal(t, tt.wantExpr, expr)
			assert.Equal(t, tt.wantNames, names)
			assert.Len(t, values, tt.wantValues)
		})
	}

	t.Run("long items are cut under the expression limit", func(t *testing.T) {
		big := Item{"pk": sv("a")}
		for i := range 1000 {
			big[string(rune('A'+i%26))+string(rune('a'+i/26))] = nv("1")
		}
		expr, names, values := condition(Item{"pk": sv("a")}, big, replattr.Names{})
		assert.LessOrEqual(t, len(expr), maxConditionBytes)
		assert.Greater(t, len(values), 100)
		assert.Len(t, names, len(values)+3)
		operators := strings.Count(expr, " AND ") + strings.Count(expr, " = ") + strings.Count(expr, "attribute_")
		assert.LessOrEqual(t, operators, 300, "DynamoDB's limit of operators and functions")
	})

	t.Run("large values are left out", func(t *testing.T) {
		item := Item{"pk": sv("a"), "big": sv(strings.Repeat("x", maxConditionValueBytes)), "small": sv("s")}
		expr, names, _ := condition(Item{"pk": sv("a")}, item, replattr.Names{})
		assert.Equal(t, "attribute_exists(#k) AND attribute_not_exists(#r0) AND attribute_not_exists(#r1) AND #a2 = :v2", expr)
		assert.Equal(t, "small", names["#a2"])
	})
}

func TestRetryOptions_Do(t *testing.T) {
	o := RetryOptions{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}
	calls := 0
	err := dynamo.Retry(t.Context(), o, func() error { calls++; return apiErr("ThrottlingException") })
	require.ErrorIs(t, err, dynamo.ErrRetriesExhausted)
	assert.Equal(t, 3, calls)

	calls = 0
	err = dynamo.Retry(t.Context(), o, func() error { calls++; return &types.ConditionalCheckFailedException{} })
	var cond *types.ConditionalCheckFailedException
	assert.ErrorAs(t, err, &cond, "conditional failures are the caller's to handle")
	assert.Equal(t, 1, calls)
}

func TestSegments_List(t *testing.T) {
	tests := map[string]struct {
		in       Segments
		want     []int
		wantConc int
		wantErr  bool
	}{
		"defaults":              {want: []int{0, 1, 2, 3, 4, 5, 6, 7}, wantConc: 8},
		"concurrency capped":    {in: Segments{Total: 2, Concurrency: 50}, want: []int{0, 1}, wantConc: 2},
		"range":                 {in: Segments{Total: 10, Only: []int{3, 4, 4, 5}}, want: []int{3, 4, 5}, wantConc: 3},
		"segment out of range":  {in: Segments{Total: 4, Only: []int{4}}, wantErr: true},
		"negative total":        {in: Segments{Total: -1}, wantErr: true},
		"empty list":            {in: Segments{Total: 4, Only: []int{}}, wantErr: true},
		"total above the limit": {in: Segments{Total: MaxSegments + 1}, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			segs, conc, err := tt.in.list()
			if tt.wantErr {
				assert.ErrorIs(t, err, ErrSegments)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, segs)
			assert.Equal(t, tt.wantConc, conc)
		})
	}
}

func TestBatchGetRequestShape(t *testing.T) {
	// BatchGetItem asks for at most maxBatchGet keys, consistently when asked.
	var got *dynamodb.BatchGetItemInput
	f := &captureReader{fn: func(in *dynamodb.BatchGetItemInput) { got = in }}
	g := &getter{api: f, table: "t", keys: keySchema{"pk"}, retry: RetryOptions{}.Or(dynamo.DefaultRetry)}
	_, err := g.get(t.Context(), keysN(2), true)
	require.NoError(t, err)
	assert.True(t, aws.ToBool(got.RequestItems["t"].ConsistentRead))
	assert.Equal(t, 100, maxBatchGet)
}

type captureReader struct {
	fakeReader
	fn func(*dynamodb.BatchGetItemInput)
}

func (c *captureReader) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.fn(in)
	return answer(nil, nil)
}
