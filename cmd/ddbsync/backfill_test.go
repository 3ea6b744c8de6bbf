package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// syncCommand builds one of the table sync commands writing to stdout and
// stderr, with AWS configuration from load.
type syncCommand func(stdout, stderr io.Writer, load func(context.Context, string) (aws.Config, error)) interface {
	Run(ctx context.Context, args []string) error
}

var syncCommands = map[string]syncCommand{
	"backfill": func(o, e io.Writer, l func(context.Context, string) (aws.Config, error)) interface {
		Run(context.Context, []string) error
	} {
		return &BackfillCommand{Stdout: o, Stderr: e, awsConfig: l}
	},
	"verify": func(o, e io.Writer, l func(context.Context, string) (aws.Config, error)) interface {
		Run(context.Context, []string) error
	} {
		return &VerifyCommand{Stdout: o, Stderr: e, awsConfig: l}
	},
	"repair": func(o, e io.Writer, l func(context.Context, string) (aws.Config, error)) interface {
		Run(context.Context, []string) error
	} {
		return &RepairCommand{Stdout: o, Stderr: e, awsConfig: l}
	},
}

// syncFlags returns each command's FlagSet, as its Run builds it.
func syncFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	switch name {
	case "backfill":
		(&BackfillConfig{}).flags(fs)
	case "verify":
		(&VerifyConfig{}).flags(fs)
	case "repair":
		(&RepairConfig{}).flags(fs)
	case "redrive":
		(&RedriveConfig{}).flags(fs)
	}
	return fs
}

// localCmd runs command name with args against DynamoDB Local's database
// of keyID and returns its error and output. The command's exit code is
// what Main would return for the error.
func localCmd(tb testing.TB, keyID, name string, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	s := testkit.DDB(tb)
	var out, errOut bytes.Buffer
	load := func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }
	err := syncCommands[name](&out, &errOut, load).Run(tb.Context(), append([]string{"--endpoint-url", s.Endpoint}, args...))
	code = exitCode(&errOut, name, err)
	return code, out.String(), errOut.String()
}

func TestSyncCommands_Help(t *testing.T) {
	for _, name := range []string{"backfill", "verify", "repair", "redrive"} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := helpCommand(name, &out, &errOut).Run(t.Context(), []string{"--help"})
			assert.Equal(t, exitOK, exitCode(&errOut, name, err))
			assert.Empty(t, errOut.String())
			testkit.Golden(t, filepath.Join(name, "help.golden"), out.Bytes())

			n := 0
			syncFlags(name).VisitAll(func(f *pflag.Flag) {
				n++
				assert.Contains(t, out.String(), "\n  --"+f.Name, "flag %s", f.Name)
				assert.NotEmpty(t, f.Usage, "flag %s", f.Name)
			})
			assert.Positive(t, n)
		})
	}
}

func helpCommand(name string, stdout, stderr io.Writer) interface {
	Run(context.Context, []string) error
} {
	if name == "redrive" {
		return &RedriveCommand{Stdout: stdout, Stderr: stderr}
	}
	return syncCommands[name](stdout, stderr, nil)
}

func TestSyncCommands_UsageErrors(t *testing.T) {
	tests := map[string]struct {
		name       string
		args       []string
		wantStderr []string
	}{
		"backfill without tables": {"backfill", nil, []string{"--table: is required", "--target-table: is required", "Try: ddbsync backfill --help"}},
		"backfill same table":     {"backfill", []string{"--table", "a", "--target-table", "a"}, []string{"--target-table: must differ"}},
		"bad segment range":       {"backfill", []string{"--table", "a", "--target-table", "b", "--segments", "4", "--segment-range", "2-4"}, []string{"--segment-range: \"2-4\" must satisfy"}},
		"not a range":             {"backfill", []string{"--table", "a", "--target-table", "b", "--segment-range", "x"}, []string{`"x" is not A-B`}},
		"too many segments":       {"backfill", []string{"--table", "a", "--target-table", "b", "--segments", "0"}, []string{"--segments: 0 must be 1 to"}},
		"negative wcu":            {"backfill", []string{"--table", "a", "--target-table", "b", "--max-wcu", "-1"}, []string{"--max-wcu"}},
		"bad output":              {"verify", []string{"--table", "a", "--target-table", "b", "--output", "csv"}, []string{`--output: "csv" must be text, json or jsonl`}},
		"values need jsonl":       {"verify", []string{"--table", "a", "--target-table", "b", "--show-values"}, []string{"--show-values: needs --output jsonl"}},
		"no rechecks":             {"verify", []string{"--table", "a", "--target-table", "b", "--rechecks", "0"}, []string{"--rechecks"}},
		"repair extra argument":   {"repair", []string{"--table", "a", "--target-table", "b", "now"}, []string{`unexpected argument "now"`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := syncCommands[tt.name](&out, &errOut, nil).Run(t.Context(), tt.args)
			assert.Equal(t, exitUsage, exitCode(&errOut, tt.name, err))
			assert.Empty(t, out.String())
			for _, want := range tt.wantStderr {
				assert.Contains(t, errOut.String(), want)
			}
		})
	}
}

func TestParseSegmentRange(t *testing.T) {
	tests := map[string]struct {
		in      string
		total   int
		want    []int
		wantErr bool
	}{
		"range":     {in: "2-4", total: 8, want: []int{2, 3, 4}},
		"one":       {in: "5", total: 8, want: []int{5}},
		"all":       {in: "0-7", total: 8, want: []int{0, 1, 2, 3, 4, 5, 6, 7}},
		"reversed":  {in: "4-2", total: 8, wantErr: true},
		"past end":  {in: "0-8", total: 8, wantErr: true},
		"negative":  {in: "-1-2", total: 8, wantErr: true},
		"not a num": {in: "a-b", total: 8, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseSegmentRange(tt.in, tt.total)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// syncTables creates "orders" (with a stream unless noStream) and
// "orders-copy", and puts count items in orders.
func syncTables(t *testing.T, keyID string, count int, noStream bool) *dynamodb.Client {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(keyID)
	view := types.StreamViewTypeNewAndOldImages
	if noStream {
		view = ""
	}
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders", HashKey: "id", StreamViewType: view})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "orders-copy", HashKey: "id"})
	require.NoError(t, err)
	for i := range count {
		putItem(t, db, "orders", order(i, "new"))
	}
	return db
}

func order(i int, status string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"id":     &types.AttributeValueMemberS{Value: fmt.Sprintf("order-%03d", i)},
		"status": &types.AttributeValueMemberS{Value: status},
		"total":  &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.50", i)},
		"tags":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
	}
}

func putItem(t *testing.T, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	require.NoError(t, err)
}

func TestBackfillCommand(t *testing.T) {
	t.Run("copies, then verify finds the tables identical", func(t *testing.T) {
		keyID := testkit.AccessKeyID(t)
		syncTables(t, keyID, 120, false)
		ckpt := filepath.Join(t.TempDir(), "orders.ckpt")
		code, stdout, stderr := localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy",
			"--segments", "4", "--page-size", "10", "--checkpoint", ckpt, "--progress-interval", "100ms", "--yes")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "backfill: 120 items copied from orders to orders-copy")
		assert.Contains(t, stdout, "next: ddbsync verify --repair --endpoint-url "+testkit.DDB(t).Endpoint+" --table orders --target-table orders-copy\n")
		assert.NotContains(t, stderr, "warning")
		_, err := os.Stat(ckpt)
		require.NoError(t, err, "checkpoint saved")

		code, stdout, _ = localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy",
			"--segments", "4", "--checkpoint", ckpt, "--quiet", "--yes")
		require.Equal(t, exitOK, code)
		assert.Contains(t, stdout, "backfill: 0 items copied", "resumed: everything was done")
		assert.Contains(t, stdout, "120 copied before, 4 of 4 segments already done")

		code, stdout, stderr = localCmd(t, keyID, "verify", "--table", "orders", "--target-table", "orders-copy", "--quiet")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "verify: source 120 items, target 120 items: 0 missing, 0 extra, 0 different")
		assert.Contains(t, stdout, "verify: the tables are identical\n")
	})

	t.Run("refuses a source without a stream", func(t *testing.T) {
		keyID := testkit.AccessKeyID(t)
		syncTables(t, keyID, 3, true)
		code, stdout, stderr := localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy")
		assert.Equal(t, exitAWS, code, "a configuration error")
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "source table orders has no stream")
		assert.Contains(t, stderr, "--allow-no-stream")

		code, stdout, stderr = localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy", "--allow-no-stream", "--quiet", "--yes")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, stderr, "warning: source table orders has no stream: changes made during or after this copy will not reach orders-copy")
		assert.Contains(t, stdout, "backfill: 3 items copied")
	})
}

func TestBackfillCommand_Guards(t *testing.T) {
	t.Run("warns of a target that has items", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		db := syncTables(t, keyID, 3, false)
		putItem(t, db, "orders-copy", order(1, "old"))
		putItem(t, db, "orders-copy", order(7, "other"))
		code, _, stderr := localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy", "--quiet", "--yes")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stderr, "warning:  target table orders-copy is not empty (about 2 items): those with a source item's key will be overwritten")
		assert.Equal(t, 4, tableCount(t, db, "orders-copy"))
	})

	t.Run("dry run counts the chosen segments and writes nothing", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		db := syncTables(t, keyID, 40, false)
		code, stdout, stderr := localCmd(t, keyID, "backfill", "--table", "orders", "--target-table", "orders-copy", "--dry-run", "--segments", "4", "--page-size", "3")
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "backfill: dry run: would copy 40 items from orders to orders-copy")
		assert.Contains(t, stderr, "ddbsync backfill plan:")
		assert.Zero(t, tableCount(t, db, "orders-copy"))
	})

	t.Run("interrupted: no final-looking line", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		syncTables(t, keyID, 400, false)
		ckpt := filepath.Join(t.TempDir(), "orders.ckpt")
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		code, stdout, stderr := localIO(t, ctx, keyID, "backfill", "", false, "--table", "orders", "--target-table", "orders-copy",
			"--quiet", "--yes", "--max-wcu", "20", "--segments", "1", "--page-size", "10", "--checkpoint", ckpt)
		assert.Equal(t, exitInterrupted, code)
		assert.NotContains(t, stdout, "items copied from orders")
		assert.NotContains(t, stdout, "next:")
		assert.Regexp(t, `ddbsync backfill: interrupted: after \d+ items copied in .*, not finished: .*\(run the same command again to resume from `, stderr)
	})

	t.Run("failure names the endpoint", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		t.Setenv("AWS_MAX_ATTEMPTS", "1")
		var out, errOut bytes.Buffer
		err := (&BackfillCommand{Stdout: &out, Stderr: &errOut}).Run(t.Context(), []string{
			"--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--table", "a", "--target-table", "b", "--yes"})
		assert.Equal(t, exitAWS, exitCode(&errOut, "backfill", err), "an unreachable endpoint")
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), "check table a in region us-east-1 at endpoint http://127.0.0.1:1")
	})
}
