package ddbstub

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// The operations the stub answers, as named after the X-Amz-Target prefix.
const (
	OpBatchWriteItem = "BatchWriteItem"
	OpPutItem        = "PutItem"
	OpDeleteItem     = "DeleteItem"
)

// Settings of the clients built by [Server.Client].
const (
	// Region is the clients' region.
	Region = "us-east-1"
	// MaxIdleConnsPerHost is the clients' idle connection pool per host,
	// above the replicator's write concurrency so that no call waits for a
	// new connection.
	MaxIdleConnsPerHost = 64
)

const (
	targetPrefix   = "DynamoDB_20120810."
	contentType    = "application/x-amz-json-1.0"
	errorNamespace = "com.amazonaws.dynamodb.v20120810#"
	readBufferSize = 32 << 10
)

// Options configures a [Server].
type Options struct {
	// Latency is how long the server waits before each answer.
	Latency time.Duration
	// Answer, if set, decides how each call is answered. It is called from
	// the server's goroutines, concurrently, before the latency wait. Nil
	// means every call succeeds.
	Answer func(Call) Answer
}

// Call describes one request, for [Options.Answer].
type Call struct {
	// Op is OpBatchWriteItem, OpPutItem or OpDeleteItem.
	Op string
	// Seq numbers the calls the server received, from 1, in arrival order.
	Seq int64
	// Items is the number of write requests in the call (1 for PutItem and
	// DeleteItem).
	Items int
}

// Answer says how to answer one call. The zero Answer is a success.
type Answer struct {
	// Err, if set, fails the call with this error.
	Err *APIError
	// Unprocessed is how many of a BatchWriteItem's write requests come back
	// in UnprocessedItems: the last ones, taking tables in name order. It is
	// capped at the call's request count and ignored for other operations.
	Unprocessed int
}

// APIError is a DynamoDB error answer: {"__type":"<namespace>#Type","message":…}.
type APIError struct {
	// Status is the HTTP status (default 400).
	Status int
	// Type is the exception name, such as "ProvisionedThroughputExceededException".
	Type string
	// Message is the error message.
	Message string
}

// Throttle returns the error DynamoDB answers when a table's provisioned
// throughput is exceeded; the SDK decodes it as
// *types.ProvisionedThroughputExceededException.
func Throttle() *APIError {
	return &APIError{
		Status: http.StatusBadRequest,
		Type:   "ProvisionedThroughputExceededException",
		Message: "The level of configured provisioned throughput for the table was exceeded. " +
			"Consider increasing your provisioning level with the UpdateTable API.",
	}
}

// Stats counts what a [Server] answered.
type Stats struct {
	// BatchWriteItem, PutItem and DeleteItem count the calls answered,
	// whatever the answer.
	BatchWriteItem, PutItem, DeleteItem int64
	// Items counts the write requests acknowledged as written.
	Items int64
	// Errors counts the calls answered with an error.
	Errors int64
	// Unprocessed counts the write requests returned in UnprocessedItems.
	Unprocessed int64
}

// Server is a running stand-in for DynamoDB's write API.
type Server struct {
	srv  *httptest.Server
	opts Options
	bufs sync.Pool

	seq                                 atomic.Int64
	batchCalls, putCalls, deleteCalls   atomic.Int64
	items, errorCalls, unprocessedItems atomic.Int64
}

// New starts a server on 127.0.0.1. Close it when done.
func New(opts Options) *Server {
	s := &Server{opts: opts}
	s.bufs.New = func() any { return new([readBufferSize]byte) }
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down, after the calls in progress are answered.
func (s *Server) Close() { s.srv.Close() }

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	return Stats{
		BatchWriteItem: s.batchCalls.Load(),
		PutItem:        s.putCalls.Load(),
		DeleteItem:     s.deleteCalls.Load(),
		Items:          s.items.Load(),
		Errors:         s.errorCalls.Load(),
		Unprocessed:    s.unprocessedItems.Load(),
	}
}

// Client returns a DynamoDB client for this server, built like the
// replicator's: static credentials, region [Region], the SDK retryer off
// (aws.NopRetryer) and the SDK's default HTTP transport with
// [MaxIdleConnsPerHost] idle connections. Its idle connections are closed
// in tb.Cleanup.
func (s *Server) Client(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	tr := awshttp.NewBuildableClient().GetTransport()
	tr.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	tb.Cleanup(tr.CloseIdleConnections)
	return dynamodb.NewFromConfig(aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("ddbstub", "ddbstub", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  &http.Client{Transport: tr},
	}, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.URL())
	})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	var calls *atomic.Int64
	switch op {
	case OpBatchWriteItem:
		calls = &s.batchCalls
	case OpPutItem:
		calls = &s.putCalls
	case OpDeleteItem:
		calls = &s.deleteCalls
	default:
		writeError(w, &APIError{Type: "UnknownOperationException", Message: "ddbstub does not answer " + strconv.Quote(op)})
		return
	}
	call := Call{Op: op, Seq: s.seq.Add(1), Items: 1}

	// Keep the body only if an answer may need its requests back.
	keep := op == OpBatchWriteItem && s.opts.Answer != nil
	body, n, err := s.readBody(r.Body, op == OpBatchWriteItem, keep)
	if err != nil {
		writeError(w, &APIError{Type: "SerializationException", Message: "read request: " + err.Error()})
		return
	}
	if op == OpBatchWriteItem {
		call.Items = n
	}
	var ans Answer
	if s.opts.Answer != nil {
		ans = s.opts.Answer(call)
	}
	if !wait(r.Context(), s.opts.Latency) {
		return // the client gave up: nothing was answered
	}
	calls.Add(1)

	if ans.Err != nil {
		s.errorCalls.Add(1)
		writeError(w, ans.Err)
		return
	}
	if op != OpBatchWriteItem {
		s.items.Add(1)
		writeJSON(w, http.StatusOK, []byte(`{}`))
		return
	}
	unprocessed := min(max(ans.Unprocessed, 0), call.Items)
	if unprocessed == 0 {
		s.items.Add(int64(call.Items))
		writeJSON(w, http.StatusOK, []byte(`{"UnprocessedItems":{}}`))
		return
	}
	out, err := unprocessedAnswer(body, unprocessed)
	if err != nil {
		writeError(w, &APIError{Type: "SerializationException", Message: "decode request: " + err.Error()})
		return
	}
	s.items.Add(int64(call.Items - unprocessed))
	s.unprocessedItems.Add(int64(unprocessed))
	writeJSON(w, http.StatusOK, out)
}

// readBody reads a request body, counting BatchWriteItem requests as it
// goes when count is set, and returns the body only when keep is set.
func (s *Server) readBody(r io.Reader, count, keep bool) (body []byte, n int, err error) {
	if keep {
		body, err = io.ReadAll(r)
		var c requestCounter
		c.scan(body)
		return body, c.n, err
	}
	buf := s.bufs.Get().(*[readBufferSize]byte)
	defer s.bufs.Put(buf)
	var c requestCounter
	for {
		m, rerr := r.Read(buf[:])
		if count {
			c.scan(buf[:m])
		}
		switch {
		case rerr == io.EOF:
			return nil, c.n, nil
		case rerr != nil:
			return nil, 0, rerr
		}
	}
}

// requestCounter counts the write requests of a BatchWriteItem body
// ({"RequestItems":{"table":[{…},…],…}}) without decoding it: they are the
// objects that open at nesting depth 3. It tracks only depth and strings,
// so it works on a body fed in pieces.
type requestCounter struct {
	depth            int
	inString, escape bool
	n                int
}

func (c *requestCounter) scan(p []byte) {
	for _, ch := range p {
		if c.inString {
			switch {
			case c.escape:
				c.escape = false
			case ch == '\\':
				c.escape = true
			case ch == '"':
				c.inString = false
			}
			continue
		}
		switch ch {
		case '"':
			c.inString = true
		case '{':
			if c.depth == 3 {
				c.n++
			}
			c.depth++
		case '[':
			c.depth++
		case '}', ']':
			c.depth--
		}
	}
}

// unprocessedAnswer builds a BatchWriteItem answer returning the last n
// write requests of body, taking tables in name order.
func unprocessedAnswer(body []byte, n int) ([]byte, error) {
	var in struct {
		RequestItems map[string][]json.RawMessage
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	tables := make([]string, 0, len(in.RequestItems))
	for t := range in.RequestItems {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	out := map[string][]json.RawMessage{}
	for i := len(tables) - 1; i >= 0 && n > 0; i-- {
		reqs := in.RequestItems[tables[i]]
		k := min(n, len(reqs))
		out[tables[i]] = reqs[len(reqs)-k:]
		n -= k
	}
	return json.Marshal(map[string]any{"UnprocessedItems": out})
}

// wait sleeps for d, or until ctx is done; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func writeError(w http.ResponseWriter, e *APIError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{errorNamespace + e.Type, e.Message})
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{}`)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// DynamoDB sends the CRC32 of every answer's body; the SDK checks it,
	// and warns on each call without it.
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client is gone if this fails
}
