package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/faultproxy"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Table names of every test.
const (
	sourceTable = "source"
	targetTable = "target"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// env is one test's tables: a stream-enabled source and a target, in the
// test's own database, with a fault proxy in front of DynamoDB Local.
type env struct {
	srv       *ddblocal.Server
	keyID     string
	db        *dynamodb.Client // direct, for the workload and comparisons
	proxy     *faultproxy.Proxy
	streamARN string
}

// newEnv creates the source (with a NEW_AND_OLD_IMAGES stream) and target
// tables and starts a proxy with opts.
func newEnv(t *testing.T, source, target ddblocal.TableSpec, opts faultproxy.Options) *env {
	t.Helper()
	e := &env{srv: testkit.DDB(t), keyID: testkit.AccessKeyID(t)}
	e.db = e.srv.DynamoDB(e.keyID)
	source.Name, target.Name = sourceTable, targetTable
	source.StreamViewType = types.StreamViewTypeNewAndOldImages
	var err error
	e.streamARN, err = ddblocal.CreateTable(t.Context(), e.db, source)
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), e.db, target)
	require.NoError(t, err)
	e.proxy = faultproxy.StartTB(t, e.srv.Endpoint, opts)
	return e
}

// demoTables are the key schemas of demo.Workload's table.
var demoTable = ddblocal.TableSpec{HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN}

// targetClient returns a DynamoDB client for the target through the proxy,
// built like cmd/replicator's: the SDK retryer off (dynamo.Table retries)
// and response checksums checked.
func (e *env) targetClient() *dynamodb.Client {
	return dynamodb.NewFromConfig(e.srv.AWSConfig(e.keyID), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(e.proxy.URL())
		o.Retryer = aws.NopRetryer{}
	})
}

// handler returns the Lambda handler writing to the target through api
// (nil: the proxy), with its EMF metrics going to m (nil: none).
func (e *env) handler(api dynamo.API, m *metrics, topts dynamo.Options, ropts replicate.Options) *lambdahandler.Handler {
	if api == nil {
		api = e.targetClient()
	}
	opts := lambdahandler.Options{TargetTable: targetTable}
	if m != nil {
		opts.Metrics = m
	}
	table := dynamo.NewTable(api, targetTable, topts)
	return lambdahandler.New(replicate.New(table, ropts), opts)
}

// compare compares the source and target tables, around the proxy.
func (e *env) compare(t *testing.T) tablesync.Comparison {
	t.Helper()
	res, err := tablesync.Compare(t.Context(), e.db, sourceTable, e.db, targetTable, tablesync.CompareOptions{MaxExamples: 100})
	require.NoError(t, err)
	return res
}

// metrics collects the handler's EMF lines; it is safe for concurrent use.
type metrics struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (m *metrics) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.Write(p)
}

// metricSums totals the handler's metrics over its invocations.
type metricSums struct {
	// Invocations counts the EMF lines, one per invocation.
	Invocations int
	// FailedResponses counts invocations with RecordsFailed > 0.
	FailedResponses int
	// The sums of the metrics of the same names.
	RecordsReceived, ItemsPut, ItemsDeleted, RecordsFailed, WriteRetries int
}

// sums parses every EMF line written so far.
func (m *metrics) sums(t *testing.T) metricSums {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var s metricSums
	sc := bufio.NewScanner(bytes.NewReader(m.buf.Bytes()))
	for sc.Scan() {
		var line struct {
			RecordsReceived, ItemsPut, ItemsDeleted, RecordsFailed, WriteRetries float64
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "EMF line %s", sc.Text())
		s.Invocations++
		s.RecordsReceived += int(line.RecordsReceived)
		s.ItemsPut += int(line.ItemsPut)
		s.ItemsDeleted += int(line.ItemsDeleted)
		s.RecordsFailed += int(line.RecordsFailed)
		s.WriteRetries += int(line.WriteRetries)
		if line.RecordsFailed > 0 {
			s.FailedResponses++
		}
	}
	require.NoError(t, sc.Err())
	return s
}

// eventually polls cond every few milliseconds until it holds, failing the
// test with msg when timeout passes first.
func eventually(t *testing.T, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, msg)
		case <-tick.C:
		}
	}
}

// background is a poller running in its own goroutine.
type background struct {
	p    *streampoll.Poller
	stop context.CancelFunc
	done chan error
}

// runBackground starts p.Run; the test's cleanup stops it if the test
// does not.
func runBackground(t *testing.T, p *streampoll.Poller) *background {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	b := &background{p: p, stop: stop, done: make(chan error, 1)}
	go func() { b.done <- p.Run(ctx) }()
	t.Cleanup(stop)
	return b
}

// halt stops the poller as `ddbsync run` stops on SIGTERM (the batch in
// flight is finished) and waits for Run to return.
func (b *background) halt(t *testing.T) {
	t.Helper()
	b.stop()
	select {
	case err := <-b.done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("poller did not stop within a minute")
	}
}

// catchUp waits until the poller has seen every record written so far and
// stops it. Call it once the writes have stopped.
func (b *background) catchUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, b.p.WaitIdle(ctx, time.Second), "the poller must catch up")
	b.halt(t)
}

// acknowledge is a function that applies nothing and reports success.
type acknowledge struct{}

func (acknowledge) Invoke(context.Context, []byte) ([]byte, error) {
	return []byte(`{"batchItemFailures":[]}`), nil
}

// streamRecords counts the records in the source's stream.
func (e *env) streamRecords(t *testing.T) int64 {
	t.Helper()
	p := streampoll.New(e.srv.Streams(e.keyID), acknowledge{}, streampoll.Options{
		StreamARN: e.streamARN, BatchSize: streampoll.MaxBatchSize, PollInterval: 50 * time.Millisecond, StopWhenIdle: 300 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, p.Run(ctx))
	return p.Stats().Records
}

// describe renders a comparison and its first examples with readable keys.
func describe(res tablesync.Comparison) string {
	var b strings.Builder
	b.WriteString(res.String())
	for i, d := range res.Examples {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; %s %s", d.Kind, keyText(d.Key))
		if len(d.Attributes) > 0 {
			fmt.Fprintf(&b, " %v", d.Attributes)
		}
	}
	return b.String()
}

// keyText renders an item key as name=value pairs in name order.
func keyText(key map[string]types.AttributeValue) string {
	names := make([]string, 0, len(key))
	for name := range key {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		var v any
		switch av := key[name].(type) {
		case *types.AttributeValueMemberS:
			v = av.Value
		case *types.AttributeValueMemberN:
			v = av.Value
		case *types.AttributeValueMemberB:
			v = av.Value
		}
		parts[i] = fmt.Sprintf("%s=%v", name, v)
	}
	return strings.Join(parts, ",")
}
