package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// ErrSDKChanged is wrapped by the error of every raw BatchWriteItem call
// when the SDK no longer serializes the request where the raw body
// mechanism expects (see the package doc, "Raw writes"). Nothing is sent.
var ErrSDKChanged = errors.New("the AWS SDK's request pipeline changed: raw BatchWriteItem body not installed")

// Middleware IDs of the raw body mechanism.
const (
	rawBodyID  = "ddbsync.RawBatchWriteBody"
	rawCheckID = "ddbsync.RawBatchWriteCheck"
)

// Lengths of the JSON around each raw request in a body.
var (
	putOpen    = []byte(`{"PutRequest":{"Item":`)
	deleteOpen = []byte(`{"DeleteRequest":{"Key":`)
	reqClose   = []byte(`}}`)
)

// rawEnabled reports whether writes can go out as a raw body: the table
// was built over a *dynamodb.Client and every write carries its JSON.
func (t *Table) rawEnabled(writes []replicate.Write) bool {
	if !t.raw {
		return false
	}
	for i := range writes {
		w := &writes[i]
		if w.RawKey == nil || (w.Op == replicate.OpPut && w.RawItem == nil) {
			return false
		}
	}
	return true
}

// rawBody returns the BatchWriteItem body of the writes in todo:
// {"RequestItems":{"<table>":[{"PutRequest":{"Item":<RawItem>}},…]}}.
func (t *Table) rawBody(writes []replicate.Write, todo []int) []byte {
	size := len(t.quotedName) + 24
	for _, i := range todo {
		size += len(deleteOpen) + len(reqClose) + 1 + len(writes[i].RawItem) + len(writes[i].RawKey)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"RequestItems":{`...)
	b = append(b, t.quotedName...)
	b = append(b, ":["...)
	for j, i := range todo {
		if j > 0 {
			b = append(b, ',')
		}
		w := &writes[i]
		if w.Op == replicate.OpPut {
			b = append(b, putOpen...)
			b = append(b, w.RawItem...)
		} else {
			b = append(b, deleteOpen...)
			b = append(b, w.RawKey...)
		}
		b = append(b, reqClose...)
	}
	return append(b, "]}}"...)
}

// placeholder is the input given to the SDK for a raw call: the real table
// name, for endpoint resolution, and no requests.
func (t *Table) placeholder() *dynamodb.BatchWriteItemInput {
	return &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{t.name: {}}}
}

// batchWriteRaw sends body with the SDK client: the SDK validates and
// serializes the placeholder input, resolves the endpoint, signs, sends and
// decodes the answer (UnprocessedItems and typed errors) as for any call;
// a Serialize-step middleware added for this call alone swaps the
// placeholder's body for body before the Finalize step hashes and signs it.
func (t *Table) batchWriteRaw(ctx context.Context, body []byte) (*dynamodb.BatchWriteItemOutput, error) {
	m := &rawBodyMiddleware{body: bytes.NewReader(body), size: int64(len(body)), expect: t.placeholderBody}
	return t.api.BatchWriteItem(ctx, t.placeholder(), func(o *dynamodb.Options) {
		// Clip so that concurrent calls never append to a shared array.
		o.APIOptions = append(slices.Clip(o.APIOptions), m.add)
	})
}

// rawBodyMiddleware installs one call's raw body and checks that it is the
// body that gets signed and sent.
type rawBodyMiddleware struct {
	body   *bytes.Reader
	size   int64
	expect []byte // what the SDK serializes for the placeholder
}

func (m *rawBodyMiddleware) add(stack *middleware.Stack) error {
	if err := stack.Serialize.Add(middleware.SerializeMiddlewareFunc(rawBodyID, m.serialize), middleware.After); err != nil {
		return fmt.Errorf("%w: add %s: %w", ErrSDKChanged, rawBodyID, err)
	}
	if err := stack.Finalize.Add(middleware.FinalizeMiddlewareFunc(rawCheckID, m.check), middleware.After); err != nil {
		return fmt.Errorf("%w: add %s: %w", ErrSDKChanged, rawCheckID, err)
	}
	return nil
}

// serialize runs last in the Serialize step. It checks that the SDK has
// serialized the placeholder, exactly, and replaces that body.
func (m *rawBodyMiddleware) serialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("%w: request is %T", ErrSDKChanged, in.Request)
	}
	var got []byte
	if s := req.GetStream(); s != nil {
		var err error
		if got, err = io.ReadAll(s); err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("%w: read serialized body: %w", ErrSDKChanged, err)
		}
	}
	if !bytes.Equal(got, m.expect) {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("%w: the serialized body is %q, want %q", ErrSDKChanged, truncate(got), m.expect)
	}
	req, err := req.SetStream(m.body)
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("set raw body: %w", err)
	}
	in.Request = req
	return next.HandleSerialize(ctx, in)
}

// check runs last in the Finalize step, after signing: the request about
// to be sent must still carry the raw body, whole.
func (m *rawBodyMiddleware) check(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok || req.GetStream() != io.Reader(m.body) || req.ContentLength != m.size {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("%w: the body to be sent is not the raw body", ErrSDKChanged)
	}
	return next.HandleFinalize(ctx, in)
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// placeholderBody is the body the SDK serializes for t.placeholder().
func placeholderBody(quotedName []byte) []byte {
	return fmt.Appendf(nil, `{"RequestItems":{%s:[]}}`, quotedName)
}

// quoteName returns name as a JSON string.
func quoteName(name string) []byte {
	b, err := json.Marshal(name)
	if err != nil { // a string always marshals
		return []byte(`""`)
	}
	return b
}

// typedWrite returns w with Item and Key decoded from its JSON if they are
// missing, for the calls that need SDK values.
func typedWrite(w replicate.Write) (replicate.Write, error) {
	if w.Key == nil && w.RawKey != nil {
		key, err := replicate.DecodeImage(w.RawKey)
		if err != nil {
			return w, fmt.Errorf("decode key: %w", err)
		}
		w.Key = key
	}
	if w.Op == replicate.OpPut && w.Item == nil && w.RawItem != nil {
		item, err := replicate.DecodeImage(w.RawItem)
		if err != nil {
			return w, fmt.Errorf("decode item: %w", err)
		}
		w.Item = item
	}
	return w, nil
}
