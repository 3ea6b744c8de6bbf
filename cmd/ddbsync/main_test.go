package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// runMain runs the CLI with args and returns the exit code and output.
func runMain(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = Main(tb.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMain_Help(t *testing.T) {
	tests := map[string]struct {
		args   []string
		golden string
	}{
		"help":           {[]string{"help"}, "help.golden"},
		"--help":         {[]string{"--help"}, "help.golden"},
		"run --help":     {[]string{"run", "--help"}, "run-help.golden"},
		"run -h":         {[]string{"run", "-h"}, "run-help.golden"},
		"demo --help":    {[]string{"demo", "--help"}, "demo-help.golden"},
		"help documents": {[]string{"help"}, "help.golden"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			assert.Equal(t, exitOK, code)
			assert.Empty(t, stderr)
			testkit.Golden(t, tt.golden, []byte(stdout))
		})
	}
}

// TestRunCommand_HelpDocumentsEveryFlag checks that `ddbsync run --help`
// names every flag the command accepts.
func TestRunCommand_HelpDocumentsEveryFlag(t *testing.T) {
	_, stdout, _ := runMain(t, "run", "--help")
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	(&RunConfig{}).flags(fs)
	(&globalFlags{}).bind(fs) // --region, --endpoint-url, --quiet, ...
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		assert.Contains(t, stdout, "\n  --"+f.Name, "flag %s", f.Name)
		assert.NotEmpty(t, f.Usage, "flag %s", f.Name)
	})
	assert.GreaterOrEqual(t, n, 20)
}

func TestMain_UsageErrors(t *testing.T) {
	tests := map[string]struct {
		args       []string
		wantStderr []string
	}{
		"no command":      {nil, []string{"Usage:\n  ddbsync <command>"}},
		"unknown command": {[]string{"sync"}, []string{`ddbsync sync: unknown command "sync"`, "Try: ddbsync help"}},
		"unknown flag":    {[]string{"run", "--tabel", "x"}, []string{"unknown flag: --tabel (did you mean --table?)", "Try: ddbsync run --help"}},
		"missing flags":   {[]string{"run"}, []string{"--table: is required", "--target-table: is required", "Try: ddbsync run --help"}},
		"extra argument":  {[]string{"run", "--table", "a", "--target-table", "b", "now"}, []string{`unexpected argument "now"`}},
		"bad resume":      {[]string{"run", "--table", "a", "--target-table", "b", "--resume", "shard-1"}, []string{`"shard-1" is not SHARD=SEQUENCE_NUMBER`}},
		"bad invoke URL": {[]string{"run", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--stream-arn", "arn:aws:dynamodb:us-east-1:1:table/a/stream/x", "--invoke-url", "localhost:9000"},
			[]string{"--invoke-url:", "Try: ddbsync run --help"}},
		"demo bad flag": {[]string{"demo", "--ops", "0"}, []string{"--ops and --keys must be positive"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			code, stdout, stderr := runMain(t, tt.args...)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, stdout)
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	failed := &RecordsFailedError{Records: 2, Batches: 1, File: "f.jsonl", Last: errors.New("boom")}
	tests := map[string]struct {
		err         error
		interrupted bool
		want        int
		wantStderr  string
	}{
		"success": {nil, false, exitOK, ""},
		"help":    {flag.ErrHelp, false, exitOK, ""},
		"usage":   {&usageError{err: errors.New("bad"), hint: "ddbsync run --help"}, false, exitUsage, "ddbsync run: bad\nTry: ddbsync run --help\n"},
		"wrapped usage": {errors.Join(errors.New("x"), &usageError{err: errors.New("bad"), hint: "h"}), false, exitUsage,
			"ddbsync run: bad\nTry: h\n"},
		"failure":                     {errors.New("describe table t: boom"), false, exitError, "ddbsync run: describe table t: boom\n"},
		"records failed":              {failed, false, exitError, "ddbsync run: " + failed.Error() + "\n"},
		"differences":                 {fmt.Errorf("%w: 1 missing", ErrTablesDiffer), false, exitError, "ddbsync run: tables differ: 1 missing\n"},
		"interrupted, nothing to say": {nil, true, exitInterrupted, "ddbsync run: interrupted\n"},
		"interrupted with an error": {fmt.Errorf("scan source: %w", context.Canceled), true, exitInterrupted,
			"ddbsync run: interrupted: scan source: context canceled\n"},
		"canceled without a signal": {fmt.Errorf("scan source: %w", context.Canceled), false, exitInterrupted,
			"ddbsync run: interrupted: scan source: context canceled\n"},
		"interrupted after records failed": {failed, true, exitInterrupted, "ddbsync run: interrupted: " + failed.Error() + "\n"},
		"usage wins over interrupted":      {&usageError{err: errors.New("bad"), hint: "h"}, true, exitUsage, "ddbsync run: bad\nTry: h\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := tt.err
			if tt.interrupted {
				err = &interruptedError{err: err}
			}
			assert.Equal(t, tt.want, exitCode(&stderr, "run", err))
			assert.Equal(t, tt.wantStderr, stderr.String())
		})
	}
}

// TestMain_Interrupted checks that a command stopped by SIGINT or SIGTERM
// (its context cancelled) exits 130, whatever the command.
func TestMain_Interrupted(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	tests := map[string][]string{
		"run":    {"run", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--table", "a", "--target-table", "b", "--quiet"},
		"verify": {"verify", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1", "--table", "a", "--target-table", "b"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // the signal arrived
			var stdout, stderr bytes.Buffer
			assert.Equal(t, exitInterrupted, Main(ctx, args, &stdout, &stderr))
			assert.Contains(t, stderr.String(), "ddbsync "+name+": interrupted")
		})
	}
}

func TestRunConfig_Validate(t *testing.T) {
	valid := func() RunConfig {
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		c := RunConfig{}
		c.flags(fs)
		require.NoError(t, fs.Parse([]string{"--table", "src", "--target-table", "dst"}))
		return c
	}
	tests := map[string]struct {
		edit     func(*RunConfig)
		wantFlag []string
	}{
		"defaults are valid":         {func(*RunConfig) {}, nil},
		"stream ARN instead":         {func(c *RunConfig) { c.Table, c.StreamARN = "", "arn:aws:dynamodb:us-east-1:1:table/src/stream/2026" }, nil},
		"invoke URL without target":  {func(c *RunConfig) { c.TargetTable, c.InvokeURL = "", "http://127.0.0.1:9000" }, nil},
		"retry forever":              {func(c *RunConfig) { c.MaxRetries = -1 }, nil},
		"rules in process":           {func(c *RunConfig) { c.RulesFile = "rules.yaml" }, nil},
		"rules with invoke URL":      {func(c *RunConfig) { c.RulesFile, c.InvokeURL = "rules.yaml", "http://127.0.0.1:9000" }, []string{"rules"}},
		"no source":                  {func(c *RunConfig) { c.Table = "" }, []string{"table"}},
		"both sources":               {func(c *RunConfig) { c.StreamARN = "arn:aws:dynamodb:us-east-1:1:table/src/stream/x" }, []string{"stream-arn"}},
		"not a stream ARN":           {func(c *RunConfig) { c.Table, c.StreamARN = "", "arn:aws:dynamodb:us-east-1:1:table/src" }, []string{"stream-arn"}},
		"no target":                  {func(c *RunConfig) { c.TargetTable = "" }, []string{"target-table"}},
		"bad start":                  {func(c *RunConfig) { c.Start = "TRIM_HORIZON" }, []string{"start"}},
		"resume with latest":         {func(c *RunConfig) { c.Start, c.Resume = "latest", map[string]string{"s": "1"} }, []string{"resume"}},
		"batch size too big":         {func(c *RunConfig) { c.BatchSize = 10001 }, []string{"batch-size"}},
		"batch window too long":      {func(c *RunConfig) { c.BatchWindow = 301 * time.Second }, []string{"batch-window"}},
		"max retries below -1":       {func(c *RunConfig) { c.MaxRetries = -2 }, []string{"max-retries"}},
		"function timeout too short": {func(c *RunConfig) { c.FunctionTimeout = 0 }, []string{"function-timeout"}},
		"no shard reader":            {func(c *RunConfig) { c.MaxShards = 0 }, []string{"max-shards"}},
		"too many shard readers":     {func(c *RunConfig) { c.MaxShards = maxShardReaders + 1 }, []string{"max-shards"}},
		"several at once": {func(c *RunConfig) {
			c.Concurrency, c.WriteAttempts, c.PollInterval, c.ProgressInterval, c.ExitWhenIdle = 0, 0, 0, 0, -1
		},
			[]string{"concurrency", "write-attempts", "poll-interval", "progress-interval", "exit-when-idle"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantFlag == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, f := range tt.wantFlag {
				assert.Contains(t, err.Error(), "--"+f+":")
			}
			var ferr *FlagError
			assert.ErrorAs(t, err, &ferr)
		})
	}
}

func TestProgress_Line(t *testing.T) {
	began := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	stats := streampoll.Stats{}
	pr := &progress{stats: func() streampoll.Stats { return stats }, began: began, lastTime: began}
	assert.Equal(t, "ddbsync run: 5s  0 records  0 rec/s  lag -  age -  0 failed  0 retries  0 shards", pr.line(began.Add(5*time.Second)))

	stats = streampoll.Stats{
		Records: 1500, Retries: 2, FailedRecords: 3, Shards: 1,
		LastCreated: began.Add(7 * time.Second), LastProcessed: began.Add(9 * time.Second), LastDelay: 38400 * time.Microsecond,
	}
	assert.Equal(t, "ddbsync run: 10s  1500 records  300 rec/s  lag 38ms  age 3s  3 failed  2 retries  1 shard", pr.line(began.Add(10*time.Second)))
}

func TestLazyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures.jsonl")
	f := &lazyFile{path: path}
	require.NoError(t, f.Close())
	assert.NoFileExists(t, path, "no failure, no file")
	assert.False(t, f.opened())

	for _, line := range []string{"a\n", "b\n"} {
		_, err := f.Write([]byte(line))
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\n", string(b))

	bad := &lazyFile{path: filepath.Join(t.TempDir(), "missing", "f")}
	_, err = bad.Write([]byte("x"))
	assert.ErrorContains(t, err, "open failure file")
}

func TestUsage_ListsCommands(t *testing.T) {
	var b strings.Builder
	Usage(&b)
	for _, c := range commands {
		assert.Contains(t, b.String(), "  "+c.name+" ")
	}
	assert.NotContains(t, b.String(), "demo", "demo is hidden")
}

// TestTooManyShards checks that the poller's refusal to start at LATEST in
// more shards than it reads at once is a usage error naming --max-shards.
func TestTooManyShards(t *testing.T) {
	err := tooManyShards(fmt.Errorf("run: %w", &streampoll.TooManyShardsError{Shards: 80, MaxShards: 64}))
	var stderr bytes.Buffer
	assert.Equal(t, exitUsage, exitCode(&stderr, "run", err))
	assert.Equal(t, "ddbsync run: --max-shards: the stream has 80 open shards to read from LATEST, more than --max-shards 64: "+
		"a shard left waiting would skip what is written before its reader starts; use --max-shards 80 or more, or --start trim-horizon\n"+
		"Try: ddbsync run --help\n", stderr.String())
	assert.NoError(t, tooManyShards(errors.New("describe stream: boom")))
	assert.NoError(t, tooManyShards(nil))
}
