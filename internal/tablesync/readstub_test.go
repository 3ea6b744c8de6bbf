package tablesync_test

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// readStub is an in-process HTTP stand-in for DynamoDB's read API
// (DescribeTable, Scan, BatchGetItem) over static in-memory tables, with a
// fixed latency per call, like internal/ddbstub for the write API. Items
// are stored as encoded JSON, so the stub spends little CPU. Keys are pk
// (S) and sk (N); segments are assigned by a hash of the key.
// TestReadStub_Contract holds it to tablesynctest.RunReaderContract, which
// DynamoDB Local passes too.
type readStub struct {
	srv     *httptest.Server
	latency time.Duration

	mu     sync.Mutex
	tables map[string]*stubTable
}

type stubTable struct {
	ids   []string // sorted key ids
	items map[string][]byte
	segs  map[int][][]string // TotalSegments -> ids per segment, sorted
}

const stubPageBytes = 1 << 20 // Scan's page size without Limit

func newReadStub(tb testing.TB, latency time.Duration) *readStub {
	s := &readStub{latency: latency, tables: map[string]*stubTable{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// load stores items as table.
func (s *readStub) load(tb testing.TB, table string, items []item) {
	tb.Helper()
	t := &stubTable{items: map[string][]byte{}, segs: map[int][][]string{}}
	for _, it := range items {
		raw, err := attributevalue.MarshalMapJSON(it)
		if err != nil {
			tb.Fatal(err)
		}
		id := stubKeyID(it)
		t.items[id] = raw
		t.ids = append(t.ids, id)
	}
	sort.Strings(t.ids)
	s.mu.Lock()
	s.tables[table] = t
	s.mu.Unlock()
}

// client returns a DynamoDB client for the stub.
func (s *readStub) client(tb testing.TB) *dynamodb.Client { return stubClient(tb, s.srv.URL) }

// stubClient returns a DynamoDB client for a stand-in at url, built like
// the CLI's write client (SDK retries off), with a connection pool large
// enough for 32 segments' writes.
func stubClient(tb testing.TB, url string) *dynamodb.Client {
	tr := awshttp.NewBuildableClient().GetTransport()
	tr.MaxIdleConnsPerHost = 256
	tb.Cleanup(tr.CloseIdleConnections)
	return dynamodb.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("stub", "stub", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  &http.Client{Transport: tr},
	}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
}

func (s *readStub) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	t := time.NewTimer(s.latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	var out []byte
	switch op {
	case "DescribeTable":
		out, err = s.describe(body)
	case "Scan":
		out, err = s.scan(body)
	case "BatchGetItem":
		out, err = s.batchGet(body)
	default:
		http.Error(w, `{"__type":"com.amazonaws.dynamodb.v20120810#UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":` + quote(err.Error()) + `}`))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write(out)
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (s *readStub) table(name string) (*stubTable, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[name]
	if !ok {
		return nil, &stubError{"no table " + name}
	}
	return t, nil
}

type stubError struct{ msg string }

func (e *stubError) Error() string { return e.msg }

func (s *readStub) describe(body []byte) ([]byte, error) {
	var in struct{ TableName string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	t, err := s.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"Table": map[string]any{
		"TableName": in.TableName, "TableStatus": "ACTIVE", "ItemCount": len(t.ids),
		"KeySchema":            []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}},
		"AttributeDefinitions": []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}},
	}})
}

func keyIDOf(raw json.RawMessage) (string, error) {
	key, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return "", err
	}
	return stubKeyID(key), nil
}

// stubKeyID returns the identity of an item's key (pk, sk), its number in
// one spelling, as DynamoDB compares key numbers.
func stubKeyID(it item) string {
	sk := it["sk"]
	if num, ok := sk.(*types.AttributeValueMemberN); ok {
		if r, ok := new(big.Rat).SetString(num.Value); ok {
			sk = &types.AttributeValueMemberN{Value: r.RatString()}
		}
	}
	id, _ := replicate.KeyID(item{"pk": it["pk"], "sk": sk})
	return id
}

func (s *readStub) scan(body []byte) ([]byte, error) {
	var in struct {
		TableName                string
		Segment, TotalSegments   int
		Limit                    int
		ExclusiveStartKey        json.RawMessage
		ProjectionExpression     string // top-level attribute names only
		ExpressionAttributeNames map[string]string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	t, err := s.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if in.Segment < 0 || in.Segment >= max(in.TotalSegments, 1) {
		return nil, &stubError{"Segment must be less than TotalSegments"}
	}
	proj := projected(in.ProjectionExpression, in.ExpressionAttributeNames)
	ids := s.segment(t, in.Segment, max(in.TotalSegments, 1))
	start := 0
	if len(in.ExclusiveStartKey) > 0 {
		after, err := keyIDOf(in.ExclusiveStartKey)
		if err != nil {
			return nil, err
		}
		start = sort.SearchStrings(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	var b bytes.Buffer
	b.WriteString(`{"Items":[`)
	n, size := 0, 0
	i := start
	for ; i < len(ids) && (in.Limit == 0 || n < in.Limit) && size < stubPageBytes; i++ {
		if n > 0 {
			b.WriteByte(',')
		}
		raw := t.items[ids[i]]
		size += len(raw)
		if proj != nil {
			if raw, err = project(raw, proj); err != nil {
				return nil, err
			}
		}
		b.Write(raw)
		n++
	}
	b.WriteString(`],"Count":`)
	b.WriteString(itoa(n))
	if i < len(ids) && n > 0 {
		last := t.items[ids[i-1]]
		key, err := keyJSON(last)
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"LastEvaluatedKey":`)
		b.Write(key)
	}
	b.WriteString(`}`)
	return b.Bytes(), nil
}

// keyJSON returns the key attributes of an encoded item.
func keyJSON(raw []byte) ([]byte, error) { return project(raw, []string{"pk", "sk"}) }

// projected returns the attribute names of a ProjectionExpression of
// top-level names ("#k0, #k1" or plain names); nil for none.
func projected(expr string, names map[string]string) []string {
	if expr == "" {
		return nil
	}
	var out []string
	for _, ref := range strings.Split(expr, ",") {
		ref = strings.TrimSpace(ref)
		if name, ok := names[ref]; ok {
			ref = name
		}
		out = append(out, ref)
	}
	return out
}

// project returns the attributes names of an encoded item, those it has.
func project(raw []byte, names []string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(names))
	for _, name := range names {
		if v, ok := m[name]; ok {
			out[name] = v
		}
	}
	return json.Marshal(out)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// segment returns the sorted ids of segment seg of total.
func (s *readStub) segment(t *stubTable, seg, total int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	segs, ok := t.segs[total]
	if !ok {
		segs = make([][]string, total)
		for _, id := range t.ids {
			h := fnv.New32a()
			h.Write([]byte(id))
			k := int(h.Sum32() % uint32(total))
			segs[k] = append(segs[k], id)
		}
		t.segs[total] = segs
	}
	if seg < 0 || seg >= total {
		return nil
	}
	return segs[seg]
}

func (s *readStub) batchGet(body []byte) ([]byte, error) {
	var in struct {
		RequestItems map[string]struct {
			Keys                     []json.RawMessage
			ProjectionExpression     string // top-level attribute names only
			ExpressionAttributeNames map[string]string
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	keys := 0
	for _, req := range in.RequestItems {
		keys += len(req.Keys)
		seen := map[string]bool{}
		for _, k := range req.Keys {
			id, err := keyIDOf(k)
			if err != nil {
				return nil, err
			}
			if seen[id] {
				return nil, &stubError{"Provided list of item keys contains duplicates"}
			}
			seen[id] = true
		}
	}
	if keys > 100 {
		return nil, &stubError{"Too many items requested for the BatchGetItem call"}
	}
	var b bytes.Buffer
	b.WriteString(`{"Responses":{`)
	first := true
	for name, req := range in.RequestItems {
		t, err := s.table(name)
		if err != nil {
			return nil, err
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(quote(name) + `:[`)
		n := 0
		for _, k := range req.Keys {
			id, err := keyIDOf(k)
			if err != nil {
				return nil, err
			}
			if raw, ok := t.items[id]; ok {
				if proj := projected(req.ProjectionExpression, req.ExpressionAttributeNames); proj != nil {
					if raw, err = project(raw, proj); err != nil {
						return nil, err
					}
				}
				if n > 0 {
					b.WriteByte(',')
				}
				b.Write(raw)
				n++
			}
		}
		b.WriteString(`]`)
	}
	b.WriteString(`},"UnprocessedKeys":{}}`)
	return b.Bytes(), nil
}
