package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicator"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

var _ streampoll.Invoker = (*lambdahandler.Handler)(nil)

// Defaults of the run flags that have no library default.
const (
	defaultFailureFile      = "ddbsync-failures.jsonl"
	defaultProgressInterval = 5 * time.Second
	maxConcurrency          = 256
	maxWriteAttempts        = 100
	maxShardReaders         = 4096
)

// RecordsFailedError is returned by `ddbsync run` when batches were given
// up after their retries (exit status 1).
type RecordsFailedError struct {
	// Records and Batches count what went to File.
	Records, Batches int64
	// File is the failure file.
	File string
	// Last is the error of the last failed invocation, and Logged the last
	// error the function logged (in process; empty otherwise).
	Last   error
	Logged string
	// Redrive is the command that replays the batches.
	Redrive string
}

// Error says how many records failed, where they are, how to replay them
// and why the last one failed.
func (e *RecordsFailedError) Error() string {
	msg := fmt.Sprintf("%d %s in %d %s went to the failure file %s after their retries; once the cause is fixed, replay them with: %s",
		e.Records, plural(e.Records, "record", "records"), e.Batches, plural(e.Batches, "batch", "batches"), e.File, e.Redrive)
	if e.Last != nil {
		msg += "; last error: " + e.Last.Error()
	}
	if e.Logged != "" {
		msg += " (the function logged: " + e.Logged + ")"
	}
	return msg
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// errStopped is the cause of a deliberate stop of an in-process run (the
// demo's), which is not an interruption.
var errStopped = errors.New("stopped")

// RunCommand is `ddbsync run`: a local event source mapping that reads the
// source table's stream and applies it to the target table with the
// replicator's handler, in process or through the Runtime Interface
// Emulator.
type RunCommand struct {
	Stdout, Stderr io.Writer

	// awsConfig replaces the default credential chain (tests and demo).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
	// started, if set, is called with the poller before it runs.
	started func(*streampoll.Poller)
	// noResumeHint leaves out the --resume hint (the demo's stream is gone
	// when it stops).
	noResumeHint bool
}

// RunConfig is the configuration of `ddbsync run`, from its flags.
type RunConfig struct {
	Table, StreamARN, TargetTable  string
	Profile                        string
	Endpoint, Region, TargetRegion string
	Start                          string
	StartTimestamp                 time.Time
	Resume                         map[string]string
	BatchSize                      int
	BatchWindow                    time.Duration
	MaxRetries                     int
	FailureFile                    string
	InvokeURL                      string
	FunctionTimeout                time.Duration
	Concurrency, WriteAttempts     int
	MaxShards                      int
	Bisect                         bool
	PollInterval                   time.Duration
	ProgressInterval               time.Duration
	ExitWhenIdle                   time.Duration
	Quiet                          bool
	roleFlags
	rulesFlag
	// Output is the global --output; json and jsonl make the progress
	// JSON events.
	Output string
}

// jsonProgress reports whether progress is JSON events (--output json or
// jsonl).
func (c RunConfig) jsonProgress() bool { return c.Output == outputJSON || c.Output == outputJSONL }

// FlagError says which flag is wrong.
type FlagError struct {
	Flag string
	Err  error
}

func (e *FlagError) Error() string { return fmt.Sprintf("--%s: %v", e.Flag, e.Err) }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.Err }

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c RunConfig) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FlagError{Flag: flag, Err: fmt.Errorf(format, args...)})
	}
	switch {
	case c.Table == "" && c.StreamARN == "":
		bad("table", "is required (or --stream-arn): the source table whose stream to read")
	case c.Table != "" && c.StreamARN != "":
		bad("stream-arn", "cannot be used with --table")
	case c.StreamARN != "" && !strings.Contains(c.StreamARN, ":table/") || c.StreamARN != "" && !strings.Contains(c.StreamARN, "/stream/"):
		bad("stream-arn", "%q is not a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL)", c.StreamARN)
	}
	if c.TargetTable == "" && c.InvokeURL == "" {
		bad("target-table", "is required (or --invoke-url): the table to replicate into")
	}
	errs = append(errs, c.roleFlags.validate()...)
	if c.RulesFile != "" && c.InvokeURL != "" {
		bad("rules", "cannot be used with --invoke-url: the function applies its own rule set (its RULES or RULES_FILE)")
	}
	switch {
	case c.Start != "trim-horizon" && c.Start != "latest" && c.Start != "at-timestamp":
		bad("start", "%q must be trim-horizon, latest or at-timestamp", c.Start)
	case c.Start == "at-timestamp" && c.StartTimestamp.IsZero():
		bad("start-timestamp", "is required with --start at-timestamp: the time to start from (RFC 3339)")
	case c.Start != "at-timestamp" && !c.StartTimestamp.IsZero():
		bad("start-timestamp", "needs --start at-timestamp, not %s", c.Start)
	}
	if len(c.Resume) > 0 && c.Start == "latest" {
		bad("resume", "cannot be used with --start latest")
	}
	if c.BatchSize < 1 || c.BatchSize > streampoll.MaxBatchSize {
		bad("batch-size", "%d must be 1 to %d", c.BatchSize, streampoll.MaxBatchSize)
	}
	if c.BatchWindow < 0 || c.BatchWindow > streampoll.MaxBatchWindow {
		bad("batch-window", "%s must be 0 to %s", c.BatchWindow, streampoll.MaxBatchWindow)
	}
	if c.MaxRetries < streampoll.RetryForever || c.MaxRetries > 10000 {
		bad("max-retries", "%d must be -1 (forever) to 10000", c.MaxRetries)
	}
	if c.FunctionTimeout < time.Second || c.FunctionTimeout > 15*time.Minute {
		bad("function-timeout", "%s must be 1s to 15m", c.FunctionTimeout)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		bad("concurrency", "%d must be 1 to %d", c.Concurrency, maxConcurrency)
	}
	if c.MaxShards < 1 || c.MaxShards > maxShardReaders {
		bad("max-shards", "%d must be 1 to %d", c.MaxShards, maxShardReaders)
	}
	if c.WriteAttempts < 1 || c.WriteAttempts > maxWriteAttempts {
		bad("write-attempts", "%d must be 1 to %d", c.WriteAttempts, maxWriteAttempts)
	}
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Minute {
		bad("poll-interval", "%s must be 10ms to 1m", c.PollInterval)
	}
	if c.ProgressInterval < 100*time.Millisecond {
		bad("progress-interval", "%s must be at least 100ms", c.ProgressInterval)
	}
	if c.ExitWhenIdle < 0 {
		bad("exit-when-idle", "%s must not be negative", c.ExitWhenIdle)
	}
	return errors.Join(errs...)
}

// flags binds the configuration to a FlagSet; fs.PrintDefaults is the
// reference of every flag.
func (c *RunConfig) flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Table, "table", "", "`NAME` of the source table, whose stream to read (or --stream-arn); --table-name is\nthe same")
	fs.StringVar(&c.StreamARN, "stream-arn", "", "source stream `ARN` (instead of --table)")
	fs.StringVar(&c.TargetTable, "target-table", "", "`NAME` of the table to replicate into (in process; with --invoke-url the function's\nTARGET_TABLE_NAME applies)")
	fs.StringVar(&c.TargetRegion, "target-region", "", "`REGION` of the target table (default: --region)")
	c.roleFlags.bind(fs)
	c.rulesFlag.bind(fs)
	fs.StringVar(&c.Start, "start", "trim-horizon", "`POSITION` to start from: trim-horizon (every record in the stream), latest (new\nrecords only) or at-timestamp (each shard from its first record created at or after\n--start-timestamp); the AWS spellings TRIM_HORIZON, LATEST and AT_TIMESTAMP are the same")
	fs.Func("start-timestamp", "with --start at-timestamp, the `TIME` (RFC 3339) to start each shard at: the hand-over\nfrom an export at T starts at T minus the overlap (ddbsync backfill --from-export prints it);\ngiven alone it means --start at-timestamp", c.parseStartTimestamp)
	fs.Func("resume", "continue a shard after the record `SHARD=SEQ` (repeatable); ddbsync run prints these when it stops", c.parseResume)
	fs.IntVar(&c.BatchSize, "batch-size", streampoll.DefaultBatchSize, "most records per batch, as Lambda's BatchSize (1 to 10000)")
	fs.DurationVar(&c.BatchWindow, "batch-window", 0, "how long to gather records into a batch, as Lambda's MaximumBatchingWindowInSeconds (0 to 5m)")
	fs.IntVar(&c.MaxRetries, "max-retries", streampoll.DefaultMaxRetries, "retries of a failed batch before its metadata goes to --failure-file, as Lambda's\nMaximumRetryAttempts (-1: retry until stopped)")
	fs.BoolVar(&c.Bisect, "bisect-on-function-error", true, "split a batch in two when the function fails as a whole, and retry each half, as\nLambda's BisectBatchOnFunctionError (template.yaml sets it); records reported in\nbatchItemFailures are retried from the first one, as without it")
	fs.StringVar(&c.FailureFile, "failure-file", defaultFailureFile, "append each batch given up after --max-retries to `FILE`, one JSON line in the shape of\nLambda's on-failure record (DDBStreamBatchInfo); created on the first failure")
	fs.StringVar(&c.InvokeURL, "invoke-url", "", "send batches to a function under the Lambda Runtime Interface Emulator at this `URL`\n(e.g. http://127.0.0.1:9000) instead of the handler in process")
	fs.DurationVar(&c.FunctionTimeout, "function-timeout", streampoll.DefaultInvokeTimeout, "deadline of each invocation, like the function's timeout")
	fs.IntVar(&c.Concurrency, "concurrency", replicate.DefaultConcurrency, "in process: BatchWriteItem calls in flight per batch (the function's WRITE_CONCURRENCY)")
	fs.IntVar(&c.WriteAttempts, "write-attempts", dynamo.DefaultMaxAttempts, "in process: tries of each write before its record fails (the function's WRITE_MAX_ATTEMPTS)")
	fs.IntVar(&c.MaxShards, "max-shards", streampoll.DefaultMaxShards, "most shards read at once, one reader each (1 to 4096); with --start latest every open\nshard needs a reader from the start, or run refuses to start")
	fs.DurationVar(&c.PollInterval, "poll-interval", streampoll.DefaultPollInterval, "longest wait between reads of a shard with no new records (Lambda polls 4 times a second)")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", defaultProgressInterval, "how often to print a progress line on stderr (with --output json or jsonl, a JSON\nprogress event, also when piped)")
	fs.DurationVar(&c.ExitWhenIdle, "exit-when-idle", 0, "stop once no record has arrived for this long (default: run until interrupted)")
}

// normalizeStart accepts the AWS spellings of --start (LATEST,
// TRIM_HORIZON) and any case.
func normalizeStart(v string) string {
	switch strings.ToLower(strings.ReplaceAll(v, "_", "-")) {
	case "trim-horizon":
		return "trim-horizon"
	case "latest":
		return "latest"
	case "at-timestamp":
		return "at-timestamp"
	}
	return v
}

func (c *RunConfig) parseStartTimestamp(v string) error {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time such as 2026-12-02T16:55:00Z", v)
	}
	c.StartTimestamp = t
	return nil
}

func (c *RunConfig) parseResume(v string) error {
	shard, seq, ok := strings.Cut(v, "=")
	if !ok || shard == "" || seq == "" || replicate.ValidateSeq(seq) != nil {
		return fmt.Errorf("%q is not SHARD=SEQUENCE_NUMBER", v)
	}
	if c.Resume == nil {
		c.Resume = map[string]string{}
	}
	c.Resume[shard] = seq
	return nil
}

// runHelp documents `ddbsync run`; the flag list is generated.
var runHelp = `Usage: ddbsync run --table SOURCE --target-table TARGET [flags]

Reads the source table's DynamoDB stream and applies it to the target table,
as the Lambda event source mapping does on AWS: the same event JSON, batch
size and window, partial batch failures (ReportBatchItemFailures), a batch
split in two when the function fails as a whole (BisectBatchOnFunctionError),
retries with backoff and an on-failure record after the last retry. Batches
go to the replicator's handler in process, or with --invoke-url to the real
bootstrap under the Lambda Runtime Interface Emulator.

Every --progress-interval a line on stderr shows records applied, records
per second, lag (from reading a record to its batch being applied), record
age (now minus the newest ApproximateCreationDateTime; DynamoDB Local rounds
that down to the minute) and failures. Ctrl-C finishes the batch in flight,
prints each shard's position (resume with --resume) and exits 130.

With --start latest, every open shard's position is taken when the run
starts; a stream with more open shards than --max-shards is refused.
With --start at-timestamp --start-timestamp T each shard starts at its first
record created (ApproximateCreationDateTime) at or after T, as Lambda's
AT_TIMESTAMP: the hand-over after ddbsync backfill --from-export, which
prints the exact command (docs/export-backfill.md).

With --rules FILE the handler in process applies the rule set as the Lambda
does with RULES (docs/rules.md): filtered items are not copied, an item
leaving the filter or changing its target key is deleted from the target.
A key rule needs the stream's NEW_AND_OLD_IMAGES view type. With
--invoke-url the function applies its own rule set, so --rules is refused.

Credentials and region come from the usual AWS chain (environment, profile,
SSO, instance role). DynamoDB Local accepts any credentials.

Examples:
  ddbsync run --table orders --target-table orders-copy
  ddbsync run --table orders --target-table orders-acme --rules rules.yaml
  ddbsync run --endpoint-url http://127.0.0.1:8000 --region us-east-1 \
      --table orders --target-table orders-copy --exit-when-idle 5s
  ddbsync run --table orders --invoke-url http://127.0.0.1:9000

Without a terminal (piped) no progress lines are printed unless
--progress-interval is given; --quiet prints none.

` + exitStatusHelp(`records failed: batches went to --failure-file after their retries (the
       count, the file and the last error are printed, even with --quiet); or
       the run failed (the failure file could not be written). Exit 0 is a run
       that stopped by itself (--exit-when-idle, or the stream was disabled
       and read to its end) with every record applied; exit 2 includes
       --start latest with more open shards than --max-shards`)

// Run parses args and replicates until interrupted, idle (--exit-when-idle)
// or failed.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync run` bound to the global flags g.
func (c *RunCommand) command(g *globalFlags) *cobra.Command {
	cfg := RunConfig{}
	cmd := &cobra.Command{
		Use:         "run",
		Short:       "replicate the source table's stream to the target, locally",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: runHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Profile, cfg.Endpoint, cfg.Region, cfg.Quiet, cfg.Output = g.Profile, g.Endpoint, g.Region, g.Quiet, g.Output
			cfg.Start = normalizeStart(cfg.Start)
			if !cmd.Flags().Changed("start") && !cfg.StartTimestamp.IsZero() {
				cfg.Start = "at-timestamp"
			}
			if !cmd.Flags().Changed("progress-interval") && !isTerminal(c.Stderr) && !cfg.jsonProgress() {
				cfg.ProgressInterval = 0 // no progress lines when piped (JSON events are for programs)
			}
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

// run replicates with the parsed configuration.
func (c *RunCommand) run(ctx context.Context, cfg RunConfig) error {
	quietProgress := cfg.ProgressInterval == 0
	if quietProgress {
		cfg.ProgressInterval = defaultProgressInterval
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync run --help"}
	}
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return err
	}
	stderr := syncWriter(c.Stderr) // progress, log lines and messages come from several goroutines
	level := slog.LevelWarn
	if cfg.Quiet {
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	streamARN := cfg.StreamARN
	if cfg.Table != "" {
		loc := locate(ctx, awsCfg, tableFlags{Endpoint: cfg.Endpoint})
		if streamARN, err = tableStream(ctx, newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.Table, loc, hasKeyRule(rs)); err != nil {
			return err
		}
	}
	cause := &causeRecorder{next: logger.Handler(), last: &atomic.Pointer[string]{}}
	inv, function, err := c.invoker(cfg, rs, awsCfg, slog.New(cause))
	if err != nil {
		return err
	}
	failures := &lazyFile{path: cfg.FailureFile}
	start, startAt := streampoll.TrimHorizon, time.Time{}
	switch cfg.Start {
	case "latest":
		start = streampoll.Latest
	case "at-timestamp":
		startAt = cfg.StartTimestamp // TRIM_HORIZON, skipping the records before it
	}
	p := streampoll.New(newStreams(awsCfg, cfg.Endpoint), inv, streampoll.Options{
		StreamARN:             streamARN,
		Start:                 start,
		StartAt:               startAt,
		Resume:                cfg.Resume,
		BatchSize:             cfg.BatchSize,
		BatchWindow:           cfg.BatchWindow,
		MaxRetries:            cfg.MaxRetries,
		BisectOnFunctionError: cfg.Bisect,
		PollInterval:          cfg.PollInterval,
		InvokeTimeout:         cfg.FunctionTimeout,
		MaxShards:             cfg.MaxShards,
		StopWhenIdle:          cfg.ExitWhenIdle,
		Failures:              failures,
		FunctionARN:           function,
		Logger:                logger,
	})
	if !cfg.Quiet {
		from := string(start)
		if !startAt.IsZero() {
			from = "the first record created at or after " + startAt.UTC().Format(time.RFC3339) + " in each shard"
		}
		fmt.Fprintf(stderr, "ddbsync run: reading %s from %s into %s\n", streamARN, from, function)
	}
	if c.started != nil {
		c.started(p)
	}
	prog := startProgress(stderr, p, cfg.ProgressInterval, cfg.Quiet || quietProgress, cfg.jsonProgress())
	runErr := p.Run(ctx)
	prog.stop()
	closeErr := failures.Close()
	if err := tooManyShards(runErr); err != nil {
		return err // nothing was read
	}
	c.report(stderr, p, cfg, failures, prog.elapsed(), ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStopped))
	err = errors.Join(runErr, closeErr)
	if s := p.Stats(); s.FailedBatches > 0 {
		err = errors.Join(err, &RecordsFailedError{
			Records: s.FailedRecords, Batches: s.FailedBatches, File: cfg.FailureFile,
			Last: s.LastFailure, Logged: cause.lastError(), Redrive: redriveHint(cfg),
		})
	}
	return err
}

// tooManyShards turns the poller's refusal to start at LATEST into a usage
// error naming --max-shards; other errors give nil.
func tooManyShards(err error) error {
	var tooMany *streampoll.TooManyShardsError
	if !errors.As(err, &tooMany) {
		return nil
	}
	return &usageError{hint: "ddbsync run --help", err: &FlagError{Flag: "max-shards", Err: fmt.Errorf(
		"the stream has %d open shards to read from LATEST, more than --max-shards %d: a shard left waiting would skip "+
			"what is written before its reader starts; use --max-shards %d or more, or --start trim-horizon",
		tooMany.Shards, tooMany.MaxShards, tooMany.Shards)}}
}

// redriveHint returns the command that replays the failure file.
func redriveHint(cfg RunConfig) string {
	table, target := cfg.Table, cfg.TargetTable
	if table == "" {
		table = "SOURCE"
	}
	if target == "" {
		target = "TARGET"
	}
	t := tableFlags{Endpoint: cfg.Endpoint, Region: cfg.Region, TargetRegion: cfg.TargetRegion}
	return suggest("redrive", t, table, target, "--failure-file", shellQuote(cfg.FailureFile))
}

// invoker returns the function to invoke and a description of it for
// failure records.
// In process, rs is applied on the way to the target; a function at
// --invoke-url applies its own.
func (c *RunCommand) invoker(cfg RunConfig, rs *rules.RuleSet, awsCfg aws.Config, logger *slog.Logger) (streampoll.Invoker, string, error) {
	if cfg.InvokeURL != "" {
		inv, err := lambdainvoke.New(cfg.InvokeURL, &http.Client{})
		if err != nil {
			return nil, "", &usageError{err: &FlagError{Flag: "invoke-url", Err: err}, hint: "ddbsync run --help"}
		}
		return inv, "function at " + inv.URL(), nil
	}
	h, err := replicator.New(awsCfg, replicator.Config{
		Mode: replicator.ModeApply, TargetTable: cfg.TargetTable, TargetRegion: cfg.TargetRegion, TargetRole: cfg.role(), Endpoint: cfg.Endpoint,
		Concurrency: cfg.Concurrency, Retry: retry.Policy{MaxAttempts: cfg.WriteAttempts}, Rules: rs, Logger: logger,
	})
	if err != nil {
		return nil, "", err
	}
	return h, "table " + cfg.TargetTable + " (handler in process)", nil
}

// tableStream returns the ARN of the table's stream, checking that its
// records carry the new image the replicator writes, and with oldImages
// the old image too.
func tableStream(ctx context.Context, api *dynamodb.Client, table string, loc location, oldImages bool) (string, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return "", &awsError{err: fmt.Errorf("source %s does not exist (account %s): %w", loc.where(table, false), loc.account(), err)}
	case err != nil:
		return "", fmt.Errorf("describe %s: %w", loc.where(table, false), err)
	}
	info := tablesync.InfoOf(table, out.Table)
	enable := fmt.Sprintf("enable one with: aws dynamodb update-table --table-name %s "+
		"--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES", table)
	if !info.StreamEnabled || info.StreamARN == "" {
		return "", &awsError{err: fmt.Errorf("table %s has no stream; %s", table, enable)}
	}
	if !info.StreamReady() {
		return "", &awsError{err: fmt.Errorf("table %s's stream has view type %s, without the new image the replicator writes; %s", table, info.StreamViewType, enable)}
	}
	if oldImages && info.StreamViewType != types.StreamViewTypeNewAndOldImages {
		return "", &awsError{err: fmt.Errorf("table %s's stream has view type %s: the rule set's key rule needs the old images to delete a re-keyed item's old target item; %s",
			table, info.StreamViewType, enable)}
	}
	return info.StreamARN, nil
}

// hasKeyRule reports whether rs re-keys the items: a MODIFY then needs
// the old image.
func hasKeyRule(rs *rules.RuleSet) bool {
	for _, r := range rs.Rules {
		if r.Kind == rules.KindKey {
			return true
		}
	}
	return false
}

// report prints the summary on stderr and each shard's position on stdout.
// After an interruption the summary says so: the positions are where to
// resume, not the end of the stream.
func (c *RunCommand) report(stderr io.Writer, p *streampoll.Poller, cfg RunConfig, failures *lazyFile, elapsed time.Duration, interrupted bool) {
	s := p.Stats()
	if !cfg.Quiet {
		how := "stopped"
		if interrupted {
			how = "interrupted"
		}
		line := fmt.Sprintf("ddbsync run: %s after %s: %d records applied, %d failed",
			how, elapsed.Round(time.Millisecond), s.Records-s.FailedRecords, s.FailedRecords)
		if failures.opened() {
			line += fmt.Sprintf(" (%d %s written to %s)", s.FailedBatches, plural(s.FailedBatches, "batch", "batches"), cfg.FailureFile)
		}
		fmt.Fprintln(stderr, line)
	}
	var resume []string
	for _, pos := range p.Positions() {
		state := "open"
		if pos.Drained {
			state = "drained"
		}
		seq := pos.SequenceNumber
		if seq == "" {
			seq = "-"
		} else if !pos.Drained {
			resume = append(resume, "--resume "+pos.ShardID+"="+seq)
		}
		fmt.Fprintf(c.Stdout, "position %s %s %s\n", pos.ShardID, seq, state)
	}
	if len(resume) > 0 && !cfg.Quiet && !c.noResumeHint {
		fmt.Fprintf(stderr, "ddbsync run: to continue from here, add: %s\n", strings.Join(resume, " "))
	}
}
