package lambdahandler_test

import (
	"bufio"
	"bytes"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// writePaths are the two ways the handler can send writes: "typed" decodes
// every image into SDK attribute values (the path before raw writes),
// "raw" forwards the stream's DynamoDB JSON as the request body.
var writePaths = []struct {
	name string
	opts dynamo.Options
}{
	{"typed", dynamo.Options{Typed: true}},
	{"raw", dynamo.Options{}},
}

// BenchmarkPaths_Batch10k applies the 10,000-record batch through the SDK
// client to the 5 ms stub on each write path, in the same run, to be
// compared with each other and with BenchmarkBaseline_Sequential10k.
func BenchmarkPaths_Batch10k(b *testing.B) {
	payload := genBatch(b, batch10k)
	for _, p := range writePaths {
		b.Run(p.name, func(b *testing.B) {
			stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
			b.Cleanup(stub.Close)
			h := newHandler(dynamo.NewTable(stub.Client(b), benchTable, p.opts))
			invoke(b, h, payload)
			for b.Loop() {
				invoke(b, h, payload)
			}
			reportPerRecord(b, batch10k.Records)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
		})
	}
}

// cannedTransport answers every request at once with an empty
// BatchWriteItem answer, after reading the body, so that a benchmark
// measures the client side alone: decoding, planning, building the bodies,
// the SDK pipeline and signing.
type cannedTransport struct{}

const cannedAnswer = `{"UnprocessedItems":{}}`

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(cannedAnswer))), 10))
	return &http.Response{StatusCode: http.StatusOK, Header: h, Request: r, ContentLength: int64(len(cannedAnswer)),
		Body: io.NopCloser(strings.NewReader(cannedAnswer))}, nil
}

// BenchmarkHandlerCPU_6MB times the handler's own work for the 6 MB batch
// of 10,000 records on each write path, with the real SDK client (endpoint
// resolution, SigV4) over a transport that answers at once. Run with
// -cpu 1: ms/batch is then the CPU time one core spends per batch.
func BenchmarkHandlerCPU_6MB(b *testing.B) {
	payload := genBatch(b, batch6MB)
	for _, p := range writePaths {
		b.Run(p.name, func(b *testing.B) {
			client := dynamodb.NewFromConfig(aws.Config{
				Region:      ddbstub.Region,
				Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
				Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
				HTTPClient:  &http.Client{Transport: cannedTransport{}},
			}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:1") })
			h := newHandler(dynamo.NewTable(client, benchTable, p.opts))
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				invoke(b, h, payload)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/batch")
		})
	}
}

// BenchmarkBootstrap_6MB runs the built bootstrap under the Runtime
// Interface Emulator against the 5 ms stub (AWS_ENDPOINT_URL_DYNAMODB) and
// invokes it with the 6 MB batch of 10,000 records: ms/batch is measured
// from the outside, peak-RSS-MB is the bootstrap's VmHWM after the runs.
// "default" leaves the emulator's memory size (3008 MB); "mem128" sets
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128, from which the bootstrap derives its
// soft memory limit.
func BenchmarkBootstrap_6MB(b *testing.B) {
	payload := genBatch(b, batch6MB)
	bootstrap, err := rie.Build(b.Context(), "./cmd/replicator", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for _, mem := range []struct{ name, env string }{{"default", ""}, {"mem128", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}} {
		b.Run(mem.name, func(b *testing.B) {
			var env []string
			if mem.env != "" {
				env = append(env, mem.env)
			}
			benchBootstrap(b, bootstrap, payload, env...)
		})
	}
}

// benchBootstrap runs bootstrap under the emulator against a 5 ms stub,
// with env added to the function's environment, and invokes it with
// payload once to start it and then b.N times: ms/batch, and
// peak-RSS-MB, the bootstrap's VmHWM after the runs.
func benchBootstrap(b *testing.B, bootstrap string, payload []byte, env ...string) {
	b.Helper()
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	b.Cleanup(stub.Close)
	env = append([]string{"TARGET_TABLE_NAME=" + benchTable, "AWS_ENDPOINT_URL_DYNAMODB=" + stub.URL(),
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_REGION=" + ddbstub.Region}, env...)
	fn := testkit.StartRIE(b, rie.Options{Bootstrap: bootstrap, Env: env, Timeout: benchTimeout})
	call := func() {
		out, err := fn.Invoke(b.Context(), payload)
		if err != nil {
			b.Fatalf("%v\n%s", err, fn.Logs())
		}
		if !bytes.Equal(out, []byte(wantResponse)) {
			b.Fatalf("response %s", out)
		}
	}
	call() // cold start and warm connections
	for b.Loop() {
		call()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/batch")
	if rss, ok := peakRSS(bootstrap); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	}
}

// peakRSS returns the VmHWM of the running process whose executable is exe.
func peakRSS(exe string) (int64, bool) {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if target, err := os.Readlink(p); err != nil || target != exe {
			continue
		}
		f, err := os.Open(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}

// initDuration matches the init phase's duration the emulator logs for a
// new process ("INIT REPORT(durationMs: 12.36)"), which Lambda reports as
// "Init Duration" in its REPORT line.
var initDuration = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)|Init Duration: ([0-9.]+) ms`)

// BenchmarkBootstrap_ColdStart starts a new emulator and bootstrap for each
// iteration and invokes it once with a 10-record batch against the 5 ms
// stub. init-ms is the Init Duration the emulator reports (the process
// start up to its first request for work: what Lambda bills as a cold
// start); first-invoke-ms is the whole first invocation seen from outside,
// init included.
func BenchmarkBootstrap_ColdStart(b *testing.B) {
	payload := genBatch(b, batchSpec{Records: 10})
	bootstrap, err := rie.Build(b.Context(), "./cmd/replicator", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	stub := ddbstub.New(ddbstub.Options{Latency: benchLatency})
	b.Cleanup(stub.Close)
	env := []string{"TARGET_TABLE_NAME=" + benchTable, "AWS_ENDPOINT_URL_DYNAMODB=" + stub.URL(),
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_REGION=" + ddbstub.Region,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}
	var initMS, firstMS float64
	n := 0
	for b.Loop() {
		b.StopTimer()
		fn, err := rie.Start(b.Context(), rie.Options{Bootstrap: bootstrap, Env: env, Timeout: benchTimeout})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		out, err := fn.Invoke(b.Context(), payload)
		first := time.Since(start)
		b.StopTimer()
		logs := fn.Logs()
		_ = fn.Close()
		if err != nil || !bytes.Equal(out, []byte(wantResponse)) {
			b.Fatalf("invoke: %v %s\n%s", err, out, logs)
		}
		m := initDuration.FindStringSubmatch(logs)
		if m == nil {
			b.Fatalf("no init report in the emulator's log:\n%s", logs)
		}
		v, err := strconv.ParseFloat(m[1]+m[2], 64)
		if err != nil {
			b.Fatal(err)
		}
		initMS += v
		firstMS += float64(first.Microseconds()) / 1e3
		n++
		b.StartTimer()
	}
	b.ReportMetric(initMS/float64(n), "init-ms")
	b.ReportMetric(firstMS/float64(n), "first-invoke-ms")
}
