package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/rie"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// End-to-end workload: at least 5,000 operations over a keyspace small
// enough that keys repeat within every batch.
const (
	e2eOps  = 5000
	e2eKeys = 200
	e2eSeed = 20261127
)

// runningCommand is a `ddbsync run` started in process by a test.
type runningCommand struct {
	poller         *streampoll.Poller
	stop           context.CancelFunc
	done           chan error
	stdout, stderr *bytes.Buffer
}

// startRun starts `ddbsync run args...` against DynamoDB Local's database
// of keyID and returns once its poller exists.
func startRun(tb testing.TB, s *ddblocal.Server, keyID string, args ...string) *runningCommand {
	tb.Helper()
	ctx, stop := context.WithCancel(tb.Context())
	rc := &runningCommand{stop: stop, done: make(chan error, 1), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	started := make(chan *streampoll.Poller, 1)
	cmd := &RunCommand{
		Stdout:    rc.stdout,
		Stderr:    rc.stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil },
		started:   func(p *streampoll.Poller) { started <- p },
	}
	go func() { rc.done <- cmd.Run(ctx, append([]string{"--endpoint-url", s.Endpoint}, args...)) }()
	select {
	case rc.poller = <-started:
	case err := <-rc.done:
		tb.Fatalf("ddbsync run %v: %v\n%s", args, err, rc.stderr)
	}
	tb.Cleanup(stop)
	return rc
}

// finish waits until the command has seen every record (the writes have
// ended), stops it as Ctrl-C would and checks that it stopped cleanly.
func (rc *runningCommand) finish(tb testing.TB, deadline time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), deadline)
	defer cancel()
	require.NoError(tb, rc.poller.WaitIdle(ctx, time.Second), "replication did not catch up")
	rc.stop()
	select {
	case err := <-rc.done:
		require.NoError(tb, err, "stderr:\n%s", rc.stderr)
	case <-ctx.Done():
		tb.Fatal("ddbsync run did not stop after cancel")
	}
	assert.Regexp(tb, regexp.MustCompile(`(?m)^position shardId-\S+ \d+ open$`), rc.stdout.String())
	assert.Regexp(tb, `(?m)^ddbsync run: interrupted after \S+: \d+ records applied, 0 failed$`, rc.stderr.String(), "Ctrl-C: the summary says so")
}

// TestRun_EndToEnd writes a seeded random workload to a DynamoDB Local
// table while two `ddbsync run`s replicate its stream: one with the handler
// in process, one through the built bootstrap under the Lambda Runtime
// Interface Emulator. Both copies must then equal the source exactly, item
// by item and attribute by attribute.
func TestRun_EndToEnd(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	ctx := t.Context()
	began := time.Now()
	built := make(chan error, 1)
	var bootstrap string
	go func() {
		var err error
		bootstrap, err = rie.Build(ctx, "./cmd/replicator", t.TempDir())
		built <- err
	}()
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)
	key := ddblocal.TableSpec{HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN}
	for _, spec := range []ddblocal.TableSpec{
		{Name: "source", StreamViewType: types.StreamViewTypeNewAndOldImages},
		{Name: "copy-in-process"},
		{Name: "copy-bootstrap"},
	} {
		spec.HashKey, spec.RangeKey, spec.RangeType = key.HashKey, key.RangeKey, key.RangeType
		_, err := ddblocal.CreateTable(ctx, db, spec)
		require.NoError(t, err)
	}
	require.NoError(t, <-built)
	fn := testkit.StartRIE(t, rie.Options{
		Bootstrap: bootstrap,
		Env:       append(s.Env(keyID), "TARGET_TABLE_NAME=copy-bootstrap"),
		Timeout:   time.Minute,
	})
	t.Logf("setup took %s", time.Since(began))

	dir := t.TempDir()
	inProcess := startRun(t, s, keyID, "--table", "source", "--target-table", "copy-in-process",
		"--failure-file", filepath.Join(dir, "in-process.jsonl"), "--progress-interval", "5s")
	viaRIE := startRun(t, s, keyID, "--table", "source", "--invoke-url", fn.InvokeURL,
		"--failure-file", filepath.Join(dir, "bootstrap.jsonl"), "--progress-interval", "5s")

	writeStart := time.Now()
	counts, err := demo.Workload{Table: "source", Keys: e2eKeys, Seed: e2eSeed, Concurrency: 8}.Run(ctx, db, e2eOps)
	require.NoError(t, err)
	require.Equal(t, e2eOps, counts.Total())
	t.Logf("wrote %d operations in %s: %s", counts.Total(), time.Since(writeStart), counts)

	for name, rc := range map[string]*runningCommand{"in-process": inProcess, "bootstrap under RIE": viaRIE} {
		t.Run(name, func(t *testing.T) {
			rc.finish(t, 2*time.Minute)
			stats := rc.poller.Stats()
			assert.GreaterOrEqual(t, stats.Records, int64(e2eOps), "a record per write, at least")
			assert.Zero(t, stats.FailedRecords)
			assert.NoFileExists(t, filepath.Join(dir, "in-process.jsonl"))
			assert.NoFileExists(t, filepath.Join(dir, "bootstrap.jsonl"))
			target := "copy-in-process"
			if rc == viaRIE {
				target = "copy-bootstrap"
			}
			res, err := tablesync.Compare(ctx, db, "source", db, target, tablesync.CompareOptions{})
			require.NoError(t, err)
			t.Logf("%s: %d records in %d invocations (%d retries); %s", target, stats.Records, stats.Invocations, stats.Retries, res)
			assert.Positive(t, res.SourceItems)
			assert.True(t, res.Identical(), "%s; first differences: %+v", res, res.Examples)
		})
	}
	assert.Contains(t, fn.Logs(), "batch applied", "the bootstrap applied the batches")
	t.Logf("total %s", time.Since(began))
}

// TestRun_ExitWhenIdle runs the command as a user would after writes: it
// reads the whole stream, stops by itself once idle and reports the
// position.
func TestRun_ExitWhenIdle(t *testing.T) {
	ctx := t.Context()
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "keys-only", HashKey: "pk", StreamViewType: types.StreamViewTypeKeysOnly})
	require.NoError(t, err)
	for i := range 30 {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: string(rune('a' + i%26))},
			"n":  &types.AttributeValueMemberN{Value: "0.1000000000000000000000000000000000001"},
		}})
		require.NoError(t, err)
	}

	var stdout, stderr bytes.Buffer
	cmd := &RunCommand{
		Stdout:    &stdout,
		Stderr:    &stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil },
	}
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = cmd.Run(runCtx, []string{"--endpoint-url", s.Endpoint, "--table", "source", "--target-table", "target",
		"--exit-when-idle", "500ms", "--batch-size", "7", "--quiet"})
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	require.NoError(t, runCtx.Err(), "stopped by itself")
	assert.Empty(t, stderr.String(), "--quiet")
	assert.Regexp(t, `^position shardId-\S+ \d{21} open\n$`, stdout.String())
	res, err := tablesync.Compare(ctx, db, "source", db, "target", tablesync.CompareOptions{})
	require.NoError(t, err)
	assert.True(t, res.Identical(), res.String())
	assert.EqualValues(t, 26, res.SourceItems)

	t.Run("stream without new images", func(t *testing.T) {
		code, _, stderr := func() (int, string, string) {
			var out, errOut bytes.Buffer
			err := (&RunCommand{Stdout: &out, Stderr: &errOut, awsConfig: cmd.awsConfig}).Run(ctx,
				[]string{"--endpoint-url", s.Endpoint, "--table", "keys-only", "--target-table", "target"})
			return exitCode(&errOut, "run", err), out.String(), errOut.String()
		}()
		assert.Equal(t, exitAWS, code, "a configuration error")
		assert.Contains(t, stderr, "view type KEYS_ONLY")
		assert.Contains(t, stderr, "StreamViewType=NEW_AND_OLD_IMAGES")
	})
	t.Run("table without stream", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := (&RunCommand{Stdout: &out, Stderr: &errOut, awsConfig: cmd.awsConfig}).Run(ctx,
			[]string{"--endpoint-url", s.Endpoint, "--table", "target", "--target-table", "source"})
		assert.ErrorContains(t, err, "table target has no stream")
	})
}

// streamTables creates the table "source" (key pk, a stream with both
// images) holding the items a, b and c, and an empty "target" keyed on
// targetKey.
func streamTables(t *testing.T, db *dynamodb.Client, targetKey string) {
	t.Helper()
	ctx := t.Context()
	_, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "source", HashKey: "pk", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{Name: "target", HashKey: targetKey})
	require.NoError(t, err)
	for _, pk := range []string{"a", "b", "c"} {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("source"), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk},
		}})
		require.NoError(t, err)
	}
}

// TestRun_RecordsFailed: batches given up after their retries make run exit
// 1 with the cause, the failure file and the count on stderr, even with
// --quiet.
func TestRun_RecordsFailed(t *testing.T) {
	ctx := t.Context()
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	db := s.DynamoDB(keyID)
	// The target's key is not the source's: every write fails.
	streamTables(t, db, "id")
	tests := map[string]struct {
		args       []string
		wantStderr []string
	}{
		"quiet": {
			args: []string{"--quiet"},
		},
		"with progress": {
			args:       []string{"--progress-interval", "1s"},
			wantStderr: []string{"ddbsync run: stopped after", "0 records applied, 3 failed (1 batch written to "},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			failures := filepath.Join(t.TempDir(), "failures.jsonl")
			var stdout, stderr bytes.Buffer
			cmd := &RunCommand{
				Stdout:    &stdout,
				Stderr:    &stderr,
				awsConfig: func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil },
			}
			runCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			err := cmd.Run(runCtx, append([]string{"--endpoint-url", s.Endpoint, "--table", "source", "--target-table", "target",
				"--exit-when-idle", "500ms", "--max-retries", "0", "--failure-file", failures}, tt.args...))
			require.NoError(t, runCtx.Err(), "stopped by itself")
			code := exitCode(&stderr, "run", err)
			t.Logf("stderr:\n%s", stderr.String())
			assert.Equal(t, exitError, code)
			assert.FileExists(t, failures)
			for _, want := range append(tt.wantStderr,
				"ddbsync run: 3 records in 1 batch went to the failure file "+failures+" after their retries",
				"replay them with: ddbsync redrive --endpoint-url "+testkit.DDB(t).Endpoint+" --table source --target-table target --failure-file "+failures+";",
				"last error: function reported record",
				"ValidationException",
			) {
				assert.Contains(t, stderr.String(), want)
			}
			assert.Regexp(t, `(?m)^position shardId-\S+ \d{21} open$`, stdout.String(), "the failed records count as processed")
		})
	}
}

// TestDemoCommand runs `ddbsync demo` (what `make demo` runs) on a small
// workload: it starts and stops its own DynamoDB Local.
func TestDemoCommand(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	code, stdout, stderr := runMain(t, "demo", "--ops", "150", "--keys", "20", "--seed", "3")
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	assert.Regexp(t, `(?m)^identical\s+.*\s+yes$`, stdout)
	assert.Contains(t, stdout, "The copy is identical to the source.")
	assert.Contains(t, stderr, "ddbsync demo: wrote 150 changes")
	assert.Regexp(t, `(?m)^position shardId-\S+ \d+ open$`, stderr)
	assert.NotContains(t, stderr, "--resume", "the demo's stream is gone when it stops")
}
