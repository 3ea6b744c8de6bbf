package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// exportBuckets makes bucket names unique in the shared moto_server.
var exportBuckets atomic.Int64

// exportEnv is a source table and its export in moto's S3, and an empty
// target table, in a DynamoDB Local database of its own.
type exportEnv struct {
	keyID, s3, bucket, dir string
	db                     *dynamodb.Client
	files                  [][]exporttest.Item
	// writes counts the items put by BatchWriteItem; cancelAfter, if set,
	// cancels cancel after that many BatchWriteItem calls.
	writes      atomic.Int64
	calls       atomic.Int64
	cancelAfter int64
	cancel      context.CancelFunc
	// clients, if set, replaces some of the command's clients with fakes.
	clients func(exportClients) exportClients
}

// newExportEnv writes nfiles files of perFile items each (every attribute
// type in the first item of each file) into the source table and into an
// export of it, with faults.
func newExportEnv(t *testing.T, nfiles, perFile int, exportTime time.Time, faults map[int]exporttest.Fault) *exportEnv {
	t.Helper()
	e := &exportEnv{keyID: testkit.NewAccessKeyID(t), s3: testkit.SharedMoto(t)}
	e.db = testkit.DDB(t).DynamoDB(e.keyID)
	for _, spec := range []ddblocal.TableSpec{
		{Name: "source", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN, StreamViewType: types.StreamViewTypeNewAndOldImages},
		{Name: "target", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN},
	} {
		_, err := ddblocal.CreateTable(t.Context(), e.db, spec)
		require.NoError(t, err)
	}
	for f := range nfiles {
		var items []exporttest.Item
		for i := range perFile {
			item := exporttest.Simple(fmt.Sprintf("f%02d", f), i, strings.Repeat("v", i%7))
			if i == 0 {
				item = exporttest.AllTypes(fmt.Sprintf("f%02d", f), i)
			}
			items = append(items, item)
			putItem(t, e.db, "source", item)
		}
		e.files = append(e.files, items)
	}
	client := exporttest.S3Client(e.s3)
	e.bucket = "cli-export-" + fmt.Sprint(exportBuckets.Add(1))
	exporttest.CreateBucket(t, client, e.bucket)
	e.dir, _ = exporttest.Write(t, client, e.bucket, "exports/source", e.files, exporttest.Options{
		ExportTime: exportTime, TableARN: "arn:aws:dynamodb:us-east-1:000000000000:table/source", Faults: faults})
	return e
}

// uri is the export's folder.
func (e *exportEnv) uri() string { return "s3://" + e.bucket + "/" + e.dir }

// config is the AWS configuration of the env's database, counting (and
// optionally interrupting) the writes.
func (e *exportEnv) config(tb testing.TB) aws.Config {
	cfg := testkit.DDB(tb).AWSConfig(e.keyID)
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countWrites", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			bw, ok := in.Parameters.(*dynamodb.BatchWriteItemInput)
			if !ok || awsmiddleware.GetOperationName(ctx) != "BatchWriteItem" {
				return next.HandleInitialize(ctx, in)
			}
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				n := 0
				for _, reqs := range bw.RequestItems {
					n += len(reqs)
				}
				e.writes.Add(int64(n))
			}
			if c := e.calls.Add(1); e.cancelAfter > 0 && c == e.cancelAfter {
				e.cancel()
			}
			return out, md, err
		}), middleware.After)
	})
	return cfg
}

// backfill runs ddbsync backfill against the env with args and returns
// the exit code and output; stdin is never a terminal.
func (e *exportEnv) backfill(ctx context.Context, t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cfg := e.config(t)
	cmd := &BackfillCommand{Stdout: &out, Stderr: &errOut, stdinTerminal: func() bool { return false },
		awsConfig: func(context.Context, string) (aws.Config, error) { return cfg, nil }, pollInterval: 10 * time.Millisecond}
	if e.clients != nil {
		cmd.exportClients = func(cfg aws.Config, bc BackfillConfig) exportClients { return e.clients(defaultExportClients(cfg, bc)) }
	}
	err := cmd.Run(ctx, append([]string{"--endpoint-url", testkit.DDB(t).Endpoint, "--s3-endpoint-url", e.s3,
		"--table", "source", "--target-table", "target"}, args...))
	return exitCode(&errOut, "backfill", err), out.String(), errOut.String()
}

// items returns the number of items in table.
func (e *exportEnv) items(t *testing.T, table string) int32 {
	t.Helper()
	out, err := e.db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
	require.NoError(t, err)
	return out.Count
}

// verify runs ddbsync verify and requires 0 differences.
func (e *exportEnv) verify(t *testing.T) {
	t.Helper()
	code, stdout, stderr := localCmd(t, e.keyID, "verify", "--table", "source", "--target-table", "target", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "verify: the tables are identical\n")
}

func TestBackfillCommand_FromExport(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 4, 30, time.Now().Add(-time.Hour), nil)
	ckpt := filepath.Join(t.TempDir(), "export.ckpt")
	code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--workers", "2", "--checkpoint", ckpt,
		"--progress-interval", "100ms", "--yes")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "ddbsync backfill --from-export plan:\n")
	assert.Contains(t, stderr, "account:  unknown (endpoint URL "+testkit.DDB(t).Endpoint+")")
	assert.Contains(t, stderr, "put the 120 items of 4 data files of export arn:aws:dynamodb:us-east-1:000000000000:table/source/export/")
	assert.Contains(t, stderr, "hand-over: apply the stream from ")
	assert.Contains(t, stdout, "backfill: 120 items of 4 files loaded from arn:aws:dynamodb:us-east-1:000000000000:table/source/export/")
	assert.Contains(t, stdout, "(120 written by this run, 0 files done before")
	assert.Contains(t, stdout, "locally: ddbsync run --endpoint-url "+testkit.DDB(t).Endpoint+" --table source --target-table target --start at-timestamp --start-timestamp ")
	assert.Contains(t, stdout, "on AWS (the replicator's mapping, created disabled at TRIM_HORIZON): aws lambda update-event-source-mapping --uuid UUID --enabled")
	assert.Equal(t, int64(120), e.writes.Load(), "each item written once")
	e.verify(t)

	// The spellings of --from-export: with a space, with "=", and the
	// prefix holding the export; a rerun skips the done files.
	for _, args := range [][]string{
		{"--from-export=" + e.uri()},
		{"--from-export", "s3://" + e.bucket + "/exports/source"},
	} {
		code, stdout, stderr = e.backfill(t.Context(), t, append(args, "--checkpoint", ckpt, "--quiet", "--yes")...)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "(0 written by this run, 4 files done before")
	}
	assert.Equal(t, int64(120), e.writes.Load())
}

func TestBackfillCommand_FromExportGuards(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 2, 5, time.Now().Add(-time.Hour), nil)
	old := newExportEnv(t, 1, 2, time.Now().Add(-21*time.Hour), nil)
	gone := newExportEnv(t, 1, 2, time.Now().Add(-25*time.Hour), nil)
	tests := map[string]struct {
		env        *exportEnv
		args       []string
		code       int
		wantStdout []string
		wantStderr []string
		written    int32
	}{
		"refused without --yes when piped": {env: e, args: []string{"--from-export", e.uri()}, code: exitUsage,
			wantStderr: []string{"ddbsync backfill --from-export plan:", "put the 10 items of 2 data files",
				"refusing to write without confirmation: stdin is not a terminal",
				"Try: ddbsync backfill --endpoint-url " + testkit.DDB(t).Endpoint + " --table source --target-table target --from-export " + e.uri() + " --s3-endpoint-url "}},
		"dry run writes nothing": {env: e, args: []string{"--from-export", e.uri(), "--dry-run"}, code: exitOK,
			wantStdout: []string{"backfill: dry run: would load 10 items in 2 files from arn:", "nothing written"}},
		"dry run of a split": {env: e, args: []string{"--from-export", e.uri(), "--files", "2/2", "--dry-run"}, code: exitOK,
			wantStdout: []string{"would load 5 items in 1 files"}, wantStderr: []string{", files 2/2"}},
		"an export older than 20 h is refused with its deadline": {env: old, args: []string{"--from-export", old.uri(), "--yes"}, code: exitUsage,
			wantStderr: []string{"refused: check hand-over: the export is 21h0m0s old (more than 20h0m0s); replication must be enabled before ", "--allow-old-export"}},
		"an old export is loaded with --allow-old-export, with a warning": {env: old, args: []string{"--from-export", old.uri(), "--allow-old-export", "--yes"}, code: exitOK,
			wantStderr: []string{"warning:  the export is 21h0m0s old: replication must be enabled before "}, written: 2},
		"an export past its deadline is always refused": {env: gone, args: []string{"--from-export", gone.uri(), "--allow-old-export", "--yes"}, code: exitUsage,
			wantStderr: []string{"may already have left the stream", "take a new export", "Try: ddbsync backfill "}},
		"an export of another table": {env: e, args: []string{"--from-export", e.uri(), "--table", "target", "--target-table", "source", "--allow-target-stream", "--allow-no-stream", "--yes"}, code: exitUsage,
			wantStderr: []string{"is of table source, not --table target"}},
		"scan flags": {env: e, args: []string{"--from-export", e.uri(), "--segments", "3"}, code: exitUsage,
			wantStderr: []string{"--from-export: reads no table"}},
		"export flags without --from-export": {env: e, args: []string{"--files", "1/2", "--workers", "3"}, code: exitUsage,
			wantStderr: []string{"--files: needs --from-export", "--workers: needs --from-export"}},
		"a new export needs --export-to": {env: e, args: []string{"--from-export"}, code: exitUsage,
			wantStderr: []string{"--export-to: is required with --from-export alone"}},
		"a bad split": {env: e, args: []string{"--from-export", e.uri(), "--files", "3/2"}, code: exitUsage,
			wantStderr: []string{`--files: parse files "3/2"`}},
		"step functions without a stack": {env: e, args: []string{"--from-export", e.uri(), "--on", "step-functions"}, code: exitUsage,
			wantStderr: []string{"--stack: is required with --on step-functions"}},
		"not an export": {env: e, args: []string{"--from-export", "orders"}, code: exitUsage,
			wantStderr: []string{`unexpected argument "orders"`}},
		"no export under the prefix": {env: e, args: []string{"--from-export", "s3://" + e.bucket + "/elsewhere", "--yes"}, code: exitAWS,
			wantStderr: []string{"no export in s3://" + e.bucket + "/elsewhere/AWSDynamoDB/"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before := tt.env.items(t, "target")
			code, stdout, stderr := tt.env.backfill(t.Context(), t, tt.args...)
			assert.Equal(t, tt.code, code, stderr)
			for _, want := range tt.wantStdout {
				assert.Contains(t, stdout, want)
			}
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			assert.Equal(t, before+tt.written, tt.env.items(t, "target"))
		})
	}
}

func TestBackfillCommand_FromExportCorrupt(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault exporttest.Fault
		want  string
	}{
		"wrong checksum": {exporttest.WrongChecksum, "checksum mismatch"},
		"truncated gzip": {exporttest.Truncated, "corrupt export file"},
		"wrong count":    {exporttest.WrongCount, "item count mismatch"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newExportEnv(t, 3, 10, time.Now().Add(-time.Hour), map[int]exporttest.Fault{1: tt.fault})
			code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--yes", "--quiet")
			assert.Equal(t, exitError, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "1 of 3 data files failed")
			assert.Contains(t, stderr, e.dir+"/data/0001-10.json.gz")
			assert.Contains(t, stderr, tt.want)
			assert.Equal(t, int32(20), e.items(t, "target"), "the other files are loaded, nothing of the refused one")
		})
	}
}

func TestBackfillCommand_FromExportInterruptResume(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 6, 60, time.Now().Add(-time.Hour), nil)
	ckpt := filepath.Join(t.TempDir(), "export.ckpt")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.cancel, e.cancelAfter = cancel, 5
	code, stdout, stderr := e.backfill(ctx, t, "--from-export", e.uri(), "--checkpoint", ckpt, "--yes", "--quiet")
	assert.Equal(t, exitInterrupted, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "ddbsync backfill: interrupted: after ")
	assert.Contains(t, stderr, "not finished; run the same command again to resume from "+ckpt)
	first := e.writes.Load()
	require.Less(t, first, int64(360))

	e.cancelAfter = 0
	code, stdout, stderr = e.backfill(t.Context(), t, "--from-export", e.uri(), "--checkpoint", ckpt, "--yes", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "backfill: 360 items of 6 files loaded from arn:")
	assert.Contains(t, stdout, fmt.Sprintf("(%d written by this run", 360-first))
	assert.Equal(t, int64(360), e.writes.Load(), "each item written once over both runs")
	e.verify(t)
}

func TestBackfillCommand_FromExportSplit(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 5, 8, time.Now().Add(-time.Hour), nil)
	dir := t.TempDir()
	for i, want := range map[string]string{"1/2": "24 items of 3 files", "2/2": "16 items of 2 files"} {
		code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--files", i,
			"--checkpoint", filepath.Join(dir, strings.ReplaceAll(i, "/", "-")+".ckpt"), "--yes", "--quiet")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "backfill: "+want+" loaded")
		assert.Contains(t, stdout, "next: once every share of --files is loaded, start replication:")
	}
	assert.Equal(t, int64(40), e.writes.Load())
	e.verify(t)
	_, err := os.Stat(filepath.Join(dir, "1-2.ckpt"))
	require.NoError(t, err)
}

// TestRunCommand_StartTimestamp: ddbsync run --start at-timestamp applies
// the records created at or after the time, and skips the older ones.
func TestRunCommand_StartTimestamp(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 1, 4, time.Now().Add(-time.Hour), nil)
	// In this order: the second run sees what the first one wrote.
	tests := []struct {
		name string
		args []string
		want int32
	}{
		{"from the future: every record skipped", []string{"--start-timestamp", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, 0},
		{"from the past: every record applied", []string{"--start", "AT_TIMESTAMP", "--start-timestamp", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cfg := e.config(t)
			cmd := &RunCommand{Stdout: &stdout, Stderr: &stderr, awsConfig: func(context.Context, string) (aws.Config, error) { return cfg, nil }}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err := cmd.Run(ctx, append([]string{"--endpoint-url", testkit.DDB(t).Endpoint, "--table", "source", "--target-table", "target",
				"--exit-when-idle", "500ms"}, tt.args...))
			require.NoError(t, err, stderr.String())
			assert.Contains(t, stderr.String(), "from the first record created at or after ")
			assert.Equal(t, tt.want, e.items(t, "target"))
		})
	}
}

// TestBackfillCommand_FromExportJSONProgress: with --output json the load
// of an export writes JSON progress events (docs/progress.md), the last one
// final with every item.
func TestBackfillCommand_FromExportJSONProgress(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 3, 20, time.Now().Add(-time.Hour), nil)
	code, _, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--output", "json", "--progress-interval", "100ms", "--yes")
	require.Equal(t, exitOK, code, stderr)
	events := jsonLines(t, stderr)
	require.NotEmpty(t, events, stderr)
	last := events[len(events)-1]
	assert.Equal(t, "progress", last["event"])
	assert.Equal(t, "backfill", last["command"])
	assert.Equal(t, "load export", last["phase"])
	assert.EqualValues(t, 60, last["items"])
	assert.EqualValues(t, 60, last["total"])
	assert.Equal(t, true, last["final"])
}
