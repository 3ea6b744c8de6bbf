package faultproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// db is the DynamoDB Local server shared by the package's tests; each test
// uses its own access key id, so its own database.
var db *ddblocal.Server

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	db, err = ddblocal.Start(context.Background(), ddblocal.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy tests:", err)
		return 1
	}
	defer db.Close()
	return m.Run()
}

const table = "items"

// setup creates the test's table (hash key pk) and returns a client through
// a proxy with opts, configured like the replicator's (SDK retryer off,
// response checksums checked), and a direct client.
func setup(t *testing.T, opts Options) (p *Proxy, via, direct *dynamodb.Client) {
	t.Helper()
	id := testkit.AccessKeyID(t)
	direct = db.DynamoDB(id)
	_, err := ddblocal.CreateTable(t.Context(), direct, ddblocal.TableSpec{Name: table, HashKey: "pk"})
	require.NoError(t, err)
	p = StartTB(t, db.Endpoint, opts)
	return p, viaProxy(p, db.AWSConfig(id)), direct
}

func viaProxy(p *Proxy, cfg aws.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(p.URL())
		o.Retryer = aws.NopRetryer{}
	})
}

func item(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "v": &types.AttributeValueMemberN{Value: "1"}}
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

func exists(t *testing.T, c *dynamodb.Client, pk string) bool {
	t.Helper()
	out, err := c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	return out.Item != nil
}

func TestProxy_Faults(t *testing.T) {
	apiCode := func(code string) func(t *testing.T, err error) {
		return func(t *testing.T, err error) {
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, code, apiErr.ErrorCode())
		}
	}
	tests := map[string]struct {
		opts      Options
		check     func(t *testing.T, err error) // nil: the call must succeed
		written   bool
		wantStats Stats
	}{
		"pass": {
			opts: Options{}, written: true,
			wantStats: Stats{Requests: 1, Targeted: 1, Forwarded: 1, Passed: 1},
		},
		"throttle": {
			opts: Options{Throttle: 1},
			check: func(t *testing.T, err error) {
				var e *types.ProvisionedThroughputExceededException
				require.ErrorAs(t, err, &e)
				apiCode("ProvisionedThroughputExceededException")(t, err)
			},
			wantStats: Stats{Requests: 1, Targeted: 1, Throttled: 1},
		},
		"throttling": {
			opts: Options{Throttling: 1}, check: apiCode("ThrottlingException"),
			wantStats: Stats{Requests: 1, Targeted: 1, Throttling: 1},
		},
		"server error": {
			opts: Options{ServerError: 1},
			check: func(t *testing.T, err error) {
				var e *types.InternalServerError
				require.ErrorAs(t, err, &e)
				var resp *smithyhttp.ResponseError
				require.ErrorAs(t, err, &resp)
				assert.Equal(t, 500, resp.HTTPStatusCode())
			},
			wantStats: Stats{Requests: 1, Targeted: 1, ServerErrors: 1},
		},
		"reset before forwarding": {
			opts: Options{ResetBefore: 1},
			check: func(t *testing.T, err error) {
				var e *smithyhttp.RequestSendError
				require.ErrorAs(t, err, &e)
				t.Log(err)
			},
			written:   false,
			wantStats: Stats{Requests: 1, Targeted: 1, ResetsBefore: 1},
		},
		"reset after forwarding": {
			opts: Options{ResetAfter: 1},
			check: func(t *testing.T, err error) {
				var e *smithyhttp.RequestSendError
				require.ErrorAs(t, err, &e)
				t.Log(err)
			},
			written:   true, // the write happened, but the client got no answer
			wantStats: Stats{Requests: 1, Targeted: 1, Forwarded: 1, ResetsAfter: 1},
		},
		"unprocessed share on PutItem passes": {
			opts: Options{Unprocessed: 1}, written: true,
			wantStats: Stats{Requests: 1, Targeted: 1, Forwarded: 1, Passed: 1},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, via, direct := setup(t, tt.opts)
			_, err := via.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
			if tt.check == nil {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				tt.check(t, err)
				assert.True(t, dynamo.Retryable(err), "the replicator must retry %v", err)
			}
			assert.Equal(t, tt.written || tt.check == nil, exists(t, direct, "a"))
			assert.Equal(t, tt.wantStats, p.Stats())
		})
	}
}

func TestProxy_ReadsUntouchedByDefault(t *testing.T) {
	tests := map[string]struct {
		includeReads bool
		wantErr      bool
	}{
		"writes only":   {includeReads: false, wantErr: false},
		"include reads": {includeReads: true, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, via, _ := setup(t, Options{Throttle: 1, Latency: 50 * time.Millisecond, IncludeReads: tt.includeReads})
			_, err := via.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("a")})
			if tt.wantErr {
				var e *types.ProvisionedThroughputExceededException
				require.ErrorAs(t, err, &e)
				assert.EqualValues(t, 1, p.Stats().Delayed)
			} else {
				require.NoError(t, err)
				assert.Equal(t, Stats{Requests: 1, Forwarded: 1}, p.Stats())
			}
		})
	}
}

func TestProxy_Latency(t *testing.T) {
	const latency = 150 * time.Millisecond
	p, via, _ := setup(t, Options{Latency: latency, Jitter: 50 * time.Millisecond})
	start := time.Now()
	_, err := via.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), latency)
	assert.EqualValues(t, 1, p.Stats().Delayed)
}

// TestProxy_UnprocessedItems checks, against DynamoDB Local, that the
// requests returned in UnprocessedItems are exactly the ones not applied.
func TestProxy_UnprocessedItems(t *testing.T) {
	p, via, direct := setup(t, Options{Seed: 42, Unprocessed: 1})
	ctx := t.Context()
	const rounds, puts, deletes = 12, 13, 12
	totalHeld := 0
	for round := range rounds {
		// Seed the items to delete, around the proxy.
		var seed []types.WriteRequest
		for i := range deletes {
			seed = append(seed, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(fmt.Sprintf("r%d-del%d", round, i))}})
		}
		_, err := direct.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: seed}})
		require.NoError(t, err)

		var reqs []types.WriteRequest
		for i := range puts {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(fmt.Sprintf("r%d-put%d", round, i))}})
		}
		for i := range deletes {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(fmt.Sprintf("r%d-del%d", round, i))}})
		}
		out, err := via.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		require.NoError(t, err)

		held := map[string]bool{}
		for _, r := range out.UnprocessedItems[table] {
			if r.PutRequest != nil {
				held["put "+r.PutRequest.Item["pk"].(*types.AttributeValueMemberS).Value] = true
			} else {
				held["delete "+r.DeleteRequest.Key["pk"].(*types.AttributeValueMemberS).Value] = true
			}
		}
		require.Len(t, held, len(out.UnprocessedItems[table]), "no request is returned twice")
		require.GreaterOrEqual(t, len(held), 1)
		require.Less(t, len(held), puts+deletes, "DynamoDB throttles rather than process nothing")
		totalHeld += len(held)

		for i := range puts {
			pk := fmt.Sprintf("r%d-put%d", round, i)
			assert.Equal(t, !held["put "+pk], exists(t, direct, pk), "put %s applied unless unprocessed", pk)
		}
		for i := range deletes {
			pk := fmt.Sprintf("r%d-del%d", round, i)
			assert.Equal(t, held["delete "+pk], exists(t, direct, pk), "delete %s applied unless unprocessed", pk)
		}

		// Re-sending exactly the unprocessed requests completes the batch.
		out, err = direct.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: out.UnprocessedItems})
		require.NoError(t, err)
		assert.Empty(t, out.UnprocessedItems[table])
		for i := range puts {
			assert.True(t, exists(t, direct, fmt.Sprintf("r%d-put%d", round, i)))
		}
		for i := range deletes {
			assert.False(t, exists(t, direct, fmt.Sprintf("r%d-del%d", round, i)))
		}
	}
	s := p.Stats()
	assert.EqualValues(t, rounds, s.Unprocessed)
	assert.EqualValues(t, totalHeld, s.UnprocessedItems)

	// A single request cannot be partly processed: it is forwarded as is.
	out, err := via.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		table: {{PutRequest: &types.PutRequest{Item: item("single")}}},
	}})
	require.NoError(t, err)
	assert.Empty(t, out.UnprocessedItems)
	assert.True(t, exists(t, direct, "single"))
}

func TestProxy_UnprocessedItemsTwoTables(t *testing.T) {
	_, via, direct := setup(t, Options{Seed: 3, Unprocessed: 1})
	_, err := ddblocal.CreateTable(t.Context(), direct, ddblocal.TableSpec{Name: "other", HashKey: "pk"})
	require.NoError(t, err)
	reqs := map[string][]types.WriteRequest{}
	for _, tbl := range []string{table, "other"} {
		for i := range 10 {
			reqs[tbl] = append(reqs[tbl], types.WriteRequest{PutRequest: &types.PutRequest{Item: item(fmt.Sprint(tbl, i))}})
		}
	}
	out, err := via.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: reqs})
	require.NoError(t, err)
	held := map[string]bool{}
	for tbl, rs := range out.UnprocessedItems {
		for _, r := range rs {
			held[tbl+"/"+r.PutRequest.Item["pk"].(*types.AttributeValueMemberS).Value] = true
		}
	}
	require.NotEmpty(t, held)
	for _, tbl := range []string{table, "other"} {
		for i := range 10 {
			pk := fmt.Sprint(tbl, i)
			got, err := direct.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: key(pk), ConsistentRead: aws.Bool(true)})
			require.NoError(t, err)
			assert.Equal(t, !held[tbl+"/"+pk], got.Item != nil, "%s/%s", tbl, pk)
		}
	}
}

func TestMergeUnprocessed(t *testing.T) {
	held := map[string][]json.RawMessage{
		"a": {json.RawMessage(`{"PutRequest":{"Item":{"pk":{"S":"2"}}}}`)},
		"b": {json.RawMessage(`{"DeleteRequest":{"Key":{"pk":{"S":"3"}}}}`)},
	}
	tests := map[string]struct {
		answer string
		want   string
	}{
		"empty answer": {`{}`, `{"UnprocessedItems":{"a":[{"PutRequest":{"Item":{"pk":{"S":"2"}}}}],"b":[{"DeleteRequest":{"Key":{"pk":{"S":"3"}}}}]}}`},
		"empty unprocessed": {`{"UnprocessedItems":{}}`,
			`{"UnprocessedItems":{"a":[{"PutRequest":{"Item":{"pk":{"S":"2"}}}}],"b":[{"DeleteRequest":{"Key":{"pk":{"S":"3"}}}}]}}`},
		"merged with the real answer": {
			`{"UnprocessedItems":{"a":[{"PutRequest":{"Item":{"pk":{"S":"1"}}}}]},"ConsumedCapacity":[{"TableName":"a","CapacityUnits":1}]}`,
			`{"UnprocessedItems":{"a":[{"PutRequest":{"Item":{"pk":{"S":"1"}}}},{"PutRequest":{"Item":{"pk":{"S":"2"}}}}],"b":[{"DeleteRequest":{"Key":{"pk":{"S":"3"}}}}]},"ConsumedCapacity":[{"TableName":"a","CapacityUnits":1}]}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := mergeUnprocessed([]byte(tt.answer), held)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
	_, err := mergeUnprocessed([]byte(`{"UnprocessedItems":[]}`), held)
	assert.Error(t, err, "an unreadable answer must fail the call, not drop the held requests")
}

func TestProxy_DecisionsAreSeeded(t *testing.T) {
	opts := Options{Seed: 1, Throttle: 0.05, Throttling: 0.05, ServerError: 0.02, Unprocessed: 0.1, ResetBefore: 0.01, ResetAfter: 0.01, Jitter: time.Millisecond}
	a, b := &Proxy{opts: opts}, &Proxy{opts: opts}
	opts.Seed = 2
	c := &Proxy{opts: opts}
	const n = 20000
	counts := map[Fault]int{}
	sameAsOtherSeed := 0
	for i := uint64(1); i <= n; i++ {
		da, db, dc := a.decide(i), b.decide(i), c.decide(i)
		require.Equal(t, da.fault, db.fault)
		require.Equal(t, da.delay, db.delay)
		if da.fault == dc.fault && da.delay == dc.delay {
			sameAsOtherSeed++
		}
		counts[da.fault]++
	}
	assert.Less(t, sameAsOtherSeed, n/2, "another seed gives other decisions")
	for f, rate := range map[Fault]float64{Throttle: 0.05, Throttling: 0.05, ServerError: 0.02, Unprocessed: 0.1, ResetBefore: 0.01, ResetAfter: 0.01, Pass: 0.76} {
		assert.InDelta(t, rate, float64(counts[f])/n, 0.01, "%v", f)
	}

	body := []byte(`{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"1"}}}},{"PutRequest":{"Item":{"pk":{"S":"2"}}}},{"PutRequest":{"Item":{"pk":{"S":"3"}}}},{"PutRequest":{"Item":{"pk":{"S":"4"}}}}]}}`)
	b1, h1 := holdBack(body, rand.New(rand.NewPCG(9, 9)))
	b2, h2 := holdBack(body, rand.New(rand.NewPCG(9, 9)))
	assert.Equal(t, b1, b2)
	assert.Equal(t, h1, h2)
}

func TestOptions_Validate(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		wantErr string
	}{
		"zero":          {Options{}, ""},
		"all one fault": {Options{ResetAfter: 1}, ""},
		"negative":      {Options{Throttle: -0.1}, "Throttle rate -0.1 is not in [0, 1]"},
		"above one":     {Options{ServerError: 1.5}, "ServerError rate 1.5 is not in [0, 1]"},
		"sum above one": {Options{Throttle: 0.6, Unprocessed: 0.6}, "rates sum to 1.2, more than 1"},
		"negative time": {Options{Latency: -time.Second}, "negative Latency or Jitter"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
	_, err := Start(t.Context(), "http://example.invalid:8000", Options{})
	assert.ErrorContains(t, err, "not an http://127.0.0.1 endpoint")
}

// wrongSecret signs with the right access key id (which selects the
// database) and a wrong secret key.
type wrongSecret string

func (w wrongSecret) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: string(w), SecretAccessKey: "not-the-secret"}, nil
}

// TestDynamoDBLocal_IgnoresSignatures checks the assumption that lets the
// proxy rewrite a BatchWriteItem body without re-signing it: DynamoDB Local
// accepts requests whose signature does not match.
func TestDynamoDBLocal_IgnoresSignatures(t *testing.T) {
	p, _, direct := setup(t, Options{Seed: 5, Unprocessed: 1})
	id := testkit.AccessKeyID(t)
	cfg := db.AWSConfig(id)
	cfg.Credentials = aws.NewCredentialsCache(wrongSecret(id))
	_, err := viaProxy(p, cfg).PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("wrong-secret")})
	require.NoError(t, err, "a request signed with a wrong secret is accepted")
	assert.True(t, exists(t, direct, "wrong-secret"))

	cfg.Credentials = credentials.NewStaticCredentialsProvider(id, ddblocal.SecretAccessKey, "")
	reqs := []types.WriteRequest{{PutRequest: &types.PutRequest{Item: item("x1")}}, {PutRequest: &types.PutRequest{Item: item("x2")}}}
	out, err := viaProxy(p, cfg).BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
	require.NoError(t, err, "a body changed after signing is accepted")
	assert.Len(t, out.UnprocessedItems[table], 1)
	assert.NotEqual(t, exists(t, direct, "x1"), exists(t, direct, "x2"), "exactly one of the two was forwarded")
}

func TestProxy_Close(t *testing.T) {
	p, err := Start(t.Context(), db.Endpoint, Options{})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	_, err = viaProxy(p, db.AWSConfig("closed")).PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
	var e *smithyhttp.RequestSendError
	assert.True(t, errors.As(err, &e), "a closed proxy refuses connections: %v", err)
}

// TestProxy_CancelledNeverLooksLikeSuccess checks that a request abandoned
// because Start's context ended gets no answer at all, rather than an
// empty 200 that the SDK would read as a successful write.
func TestProxy_CancelledNeverLooksLikeSuccess(t *testing.T) {
	id := testkit.AccessKeyID(t)
	direct := db.DynamoDB(id)
	_, err := ddblocal.CreateTable(t.Context(), direct, ddblocal.TableSpec{Name: table, HashKey: "pk"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	p, err := Start(ctx, db.Endpoint, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	cancel()
	_, err = viaProxy(p, db.AWSConfig(id)).PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a")})
	var e *smithyhttp.RequestSendError
	require.ErrorAs(t, err, &e)
	assert.False(t, exists(t, direct, "a"))
}
