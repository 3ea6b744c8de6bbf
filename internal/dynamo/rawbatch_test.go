package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// allTypesImage is an item with every attribute value type, in spellings
// the typed path would normalise if it could: 38-digit numbers, 1E-130,
// -0, sets with escapes and emoji, binaries.
const allTypesImage = `{"pk":{"S":"k\"1\u00e9😀"},"sk":{"N":"1.50"},` +
	`"n38":{"N":"12345678901234567890123456789012345678"},"neg38":{"N":"-9.9999999999999999999999999999999999999E+125"},` +
	`"tiny":{"N":"1E-130"},"negzero":{"N":"-0"},"s":{"S":"line\nbreak\ttab \\ \/ \u0000"},"b":{"B":"AAEC/w=="},"eb":{"B":""},` +
	`"t":{"BOOL":true},"f":{"BOOL":false},"nul":{"NULL":true},` +
	`"ss":{"SS":["a","\"q\"","😀","\ud83d\ude00x","back\\slash"]},"ns":{"NS":["1","1.0","-0","1E-130"]},` +
	`"bs":{"BS":["AA==","AQ==","/w=="]},"l":{"L":[{"S":""},{"N":"0"},{"M":{}},{"L":[]}]},` +
	`"m":{"M":{"nested":{"M":{"deep":{"L":[{"NULL":true},{"SS":["x"]}]}}}}}}`

// wireCall is one request the wire server received.
type wireCall struct {
	body      []byte
	signature bool // the Authorization header matched one recomputed over body
	tampered  bool // it also matched one over body with a byte added (never)
}

// wireServer is a DynamoDB stand-in that keeps every request body, checks
// its SigV4 signature by signing the received request again, and answers
// with answer (default: nothing unprocessed), with X-Amz-Crc32 set.
type wireServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []wireCall
	answer func(n int, body []byte) string
}

const (
	wireRegion = "eu-west-1"
	wireKey    = "AKIDWIRETEST"
	wireSecret = "wire-secret"
)

func newWireServer(tb testing.TB) *wireServer {
	tb.Helper()
	s := &wireServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ok, tampered := verifySignature(r, body), verifySignature(r, append(body[:len(body):len(body)], ' '))
		s.mu.Lock()
		s.calls = append(s.calls, wireCall{body: body, signature: ok, tampered: tampered})
		n := len(s.calls)
		answer := s.answer
		s.mu.Unlock()
		out := `{"UnprocessedItems":{}}`
		if answer != nil {
			out = answer(n, body)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(out))), 10))
		_, _ = io.WriteString(w, out)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *wireServer) received() []wireCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wireCall(nil), s.calls...)
}

// verifySignature signs a copy of r, made of the headers its Authorization
// names and the body received, with the test credentials at its X-Amz-Date,
// and reports whether the signature is the one the client sent.
func verifySignature(r *http.Request, body []byte) bool {
	auth := r.Header.Get("Authorization")
	_, signed, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return false
	}
	signed, _, _ = strings.Cut(signed, ",")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return false
	}
	for _, h := range strings.Split(signed, ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		default:
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: wireKey, SecretAccessKey: wireSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "dynamodb", wireRegion, when); err != nil {
		return false
	}
	return req.Header.Get("Authorization") == auth
}

// wireClient is an SDK client for s, built like the replicator's.
func wireClient(s *wireServer, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{
		Region:      wireRegion,
		Credentials: credentials.NewStaticCredentialsProvider(wireKey, wireSecret, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.URL) }}, optFns...)...)
}

func rawPut(key, item string) replicate.Write {
	id, ok := replicate.RawKeyID([]byte(key))
	if !ok {
		panic("bad test key " + key)
	}
	return replicate.Write{Op: replicate.OpPut, KeyID: id, RawKey: []byte(key), RawItem: []byte(item)}
}

func rawDelete(key string) replicate.Write {
	id, ok := replicate.RawKeyID([]byte(key))
	if !ok {
		panic("bad test key " + key)
	}
	return replicate.Write{Op: replicate.OpDelete, KeyID: id, RawKey: []byte(key)}
}

// bigImage is an item of about size bytes.
func bigImage(pk string, size int) string {
	return `{"pk":{"S":"` + pk + `"},"sk":{"N":"1"},"pad":{"S":"` + strings.Repeat("é", size/2) + `"}}`
}

// TestTable_WriteBatch_RawWire checks the exact bytes a raw BatchWriteItem
// sends, and that the signature covers them: the server recomputes it over
// the body it received.
func TestTable_WriteBatch_RawWire(t *testing.T) {
	big := bigImage("big", 380<<10)
	tests := map[string]struct {
		writes []replicate.Write
		want   string
	}{
		"all ten types": {
			writes: []replicate.Write{rawPut(`{"pk":{"S":"k\"1\u00e9😀"},"sk":{"N":"1.50"}}`, allTypesImage)},
			want:   `{"RequestItems":{"target":[{"PutRequest":{"Item":` + allTypesImage + `}}]}}`,
		},
		"unnormalised number key delete": {
			writes: []replicate.Write{rawDelete(`{"pk":{"S":"a"},"sk":{"N":"0001.500E0"}}`)},
			want:   `{"RequestItems":{"target":[{"DeleteRequest":{"Key":{"pk":{"S":"a"},"sk":{"N":"0001.500E0"}}}}]}}`,
		},
		"put and delete with white space kept": {
			writes: []replicate.Write{rawPut(`{"pk":{"S":"a"}}`, "{ \"pk\" : {\"S\":\"a\"} }"), rawDelete(`{"pk":{"S":"b"}}`)},
			want:   `{"RequestItems":{"target":[{"PutRequest":{"Item":{ "pk" : {"S":"a"} }}},{"DeleteRequest":{"Key":{"pk":{"S":"b"}}}}]}}`,
		},
		"380 KB item": {
			writes: []replicate.Write{rawPut(`{"pk":{"S":"big"},"sk":{"N":"1"}}`, big)},
			want:   `{"RequestItems":{"target":[{"PutRequest":{"Item":` + big + `}}]}}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, w := range tt.writes {
				if w.RawItem != nil {
					forward, err := replicate.CheckImage(w.RawItem)
					require.NoError(t, err)
					require.True(t, forward, "the test image is forwardable")
				}
			}
			srv := newWireServer(t)
			table := NewTable(wireClient(srv), "target", Options{Retry: retry.Policy{MaxAttempts: 1}})
			require.True(t, table.Raw())
			errs, _ := table.WriteBatch(t.Context(), tt.writes)
			require.Nil(t, errs)
			calls := srv.received()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.want, string(calls[0].body), "exact bytes on the wire")
			assert.True(t, calls[0].signature, "the signature is over the body received")
			assert.False(t, calls[0].tampered, "the check can fail")
		})
	}
}

// TestTable_WriteBatch_RawUnprocessed checks that UnprocessedItems, which
// the SDK decodes into attribute values, are matched back to the raw writes
// by key and re-sent alone.
func TestTable_WriteBatch_RawUnprocessed(t *testing.T) {
	srv := newWireServer(t)
	srv.answer = func(n int, body []byte) string {
		if n == 1 { // the second put and the delete come back
			return `{"UnprocessedItems":{"target":[{"PutRequest":{"Item":{"pk":{"S":"b"},"sk":{"N":"2"},"v":{"S":"x"}}}},` +
				`{"DeleteRequest":{"Key":{"sk":{"N":"3"},"pk":{"S":"c"}}}}]}}`
		}
		return `{"UnprocessedItems":{}}`
	}
	table := NewTable(wireClient(srv), "target", Options{Retry: retry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	writes := []replicate.Write{
		rawPut(`{"pk":{"S":"a"},"sk":{"N":"1"}}`, `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"x"}}`),
		rawPut(`{"pk":{"S":"b"},"sk":{"N":"2"}}`, `{"pk":{"S":"b"},"sk":{"N":"2"},"v":{"S":"x"}}`),
		rawDelete(`{"pk":{"S":"c"},"sk":{"N":"3"}}`),
	}
	errs, retries := table.WriteBatch(t.Context(), writes)
	require.Nil(t, errs)
	assert.Equal(t, 2, retries)
	calls := srv.received()
	require.Len(t, calls, 2)
	assert.Equal(t, `{"RequestItems":{"target":[{"PutRequest":{"Item":{"pk":{"S":"b"},"sk":{"N":"2"},"v":{"S":"x"}}}},`+
		`{"DeleteRequest":{"Key":{"pk":{"S":"c"},"sk":{"N":"3"}}}}]}}`, string(calls[1].body))
}

// TestTable_WriteBatch_RawFallsBackToTyped checks that a chunk with a write
// carrying SDK values only is sent typed, whole.
func TestTable_WriteBatch_RawFallsBackToTyped(t *testing.T) {
	srv := newWireServer(t)
	table := NewTable(wireClient(srv), "target", Options{Retry: retry.Policy{MaxAttempts: 1}})
	typed := rawPut(`{"pk":{"S":"t"}}`, `{"pk":{"S":"t"}}`)
	tw, err := typedWrite(typed)
	require.NoError(t, err)
	tw.RawKey, tw.RawItem = nil, nil
	errs, _ := table.WriteBatch(t.Context(), []replicate.Write{rawPut(`{"pk":{"S":"r"}}`, `{"pk":{"S":"r"}}`), tw})
	require.Nil(t, errs)
	calls := srv.received()
	require.Len(t, calls, 1)
	assert.JSONEq(t, `{"RequestItems":{"target":[{"PutRequest":{"Item":{"pk":{"S":"r"}}}},{"PutRequest":{"Item":{"pk":{"S":"t"}}}}]}}`, string(calls[0].body))
}

// sdkChangedAPI is the SDK client with extra per-call options added after
// the raw body mechanism's, to play an SDK upgrade that moves serialization.
type sdkChangedAPI struct {
	*dynamodb.Client
	after func(*middleware.Stack) error
}

func (a sdkChangedAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return a.Client.BatchWriteItem(ctx, in, append(optFns, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, a.after)
	})...)
}

// TestTable_WriteBatch_RawGuard is the guard against an SDK upgrade that
// stops serializing where the raw body mechanism expects: every call must
// then fail with ErrSDKChanged and send nothing. The "as built" case checks
// that the SDK in go.mod passes the guard.
func TestTable_WriteBatch_RawGuard(t *testing.T) {
	tests := map[string]struct {
		after   func(*middleware.Stack) error
		wantErr bool
	}{
		"as built": {after: func(*middleware.Stack) error { return nil }},
		"serializer runs after the raw body": {wantErr: true, after: func(s *middleware.Stack) error {
			m, err := s.Serialize.Remove("OperationSerializer")
			if err != nil {
				return err
			}
			return s.Serialize.Add(m, middleware.After)
		}},
		"body replaced after the raw body": {wantErr: true, after: func(s *middleware.Stack) error {
			return s.Serialize.Add(middleware.SerializeMiddlewareFunc("replace", func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
				req, err := in.Request.(*smithyhttp.Request).SetStream(strings.NewReader(`{"RequestItems":{"target":[]}}`))
				if err != nil {
					return middleware.SerializeOutput{}, middleware.Metadata{}, err
				}
				in.Request = req
				return next.HandleSerialize(ctx, in)
			}), middleware.After)
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newWireServer(t)
			client := wireClient(srv)
			table := NewTable(client, "target", Options{Retry: retry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond}})
			table.api = sdkChangedAPI{Client: client, after: tt.after}
			writes := []replicate.Write{rawPut(`{"pk":{"S":"a"}}`, `{"pk":{"S":"a"}}`), rawDelete(`{"pk":{"S":"b"}}`)}
			errs, _ := table.WriteBatch(t.Context(), writes)
			if !tt.wantErr {
				require.Nil(t, errs)
				assert.Len(t, srv.received(), 1)
				return
			}
			require.Len(t, errs, len(writes))
			for _, err := range errs {
				assert.ErrorIs(t, err, ErrSDKChanged)
			}
			assert.Empty(t, srv.received(), "nothing is sent")
		})
	}
}
