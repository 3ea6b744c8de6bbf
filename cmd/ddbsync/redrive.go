package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/redrive"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// closeTimeout bounds the writing of the decisions (the failure file, the
// queue's kept messages) after the command was interrupted.
const closeTimeout = 30 * time.Second

// ErrNotRedriven is returned when some failed batches are left.
var ErrNotRedriven = errors.New("failed batches left")

// RedriveCommand is `ddbsync redrive`: bring the keys of the batches that
// reached the on-failure destination to the source's current value.
type RedriveCommand struct {
	Stdout, Stderr io.Writer

	// Stdin is where the answer to "Proceed?" is read (default os.Stdin).
	Stdin io.Reader

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
	// stdinTerminal replaces the terminal check of Stdin (tests).
	stdinTerminal func() bool
	// queue replaces the SQS client (tests).
	queue redrive.SQSAPI
}

// RedriveConfig is the configuration of `ddbsync redrive`, from its flags.
type RedriveConfig struct {
	tableFlags
	writeFlags
	FailureFile           string
	QueueURL, SQSEndpoint string
	MaxMessages           int
	VisibilityTimeout     time.Duration
	DropExpired           bool
	rulesFlag
}

func (c *RedriveConfig) flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Table, "table", "", "`NAME` of the source table, whose stream the batches come from (required;\n--table-name is the same)")
	fs.StringVar(&c.TargetTable, "target-table", "", "`NAME` of the target table (required)")
	fs.StringVar(&c.TargetRegion, "target-region", "", "`REGION` of the target table (default: --region)")
	c.tableFlags.roleFlags.bind(fs)
	c.tableFlags.bindAttrs(fs)
	c.writeFlags.bind(fs, "read the batches and compare their keys, print what would be put or deleted,\nand write nothing: not the target, not the file or the queue")
	fs.StringVar(&c.FailureFile, "failure-file", defaultFailureFile, "read the on-failure records from `FILE`, as ddbsync run writes it; the records\nredriven move from it to FILE.done")
	fs.StringVar(&c.QueueURL, "queue-url", "", "read the on-failure records from this SQS queue `URL` (the stack's FailureQueueUrl\noutput) instead of --failure-file; each message redriven is deleted")
	fs.StringVar(&c.SQSEndpoint, "sqs-endpoint-url", "", "`URL` of SQS (default: AWS, or AWS_ENDPOINT_URL_SQS)")
	fs.IntVar(&c.MaxMessages, "max-messages", 0, "with --queue-url, stop after this many messages (default: until the queue is empty)")
	fs.DurationVar(&c.VisibilityTimeout, "visibility-timeout", redrive.DefaultVisibilityTimeout, "with --queue-url, how long a message being redriven stays hidden from other readers")
	fs.BoolVar(&c.DropExpired, "drop-expired", false, "remove the records of batches whose stream records have expired, once reported\n(default: keep them)")
	c.rulesFlag.bind(fs)
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c RedriveConfig) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FlagError{Flag: flag, Err: fmt.Errorf(format, args...)})
	}
	if c.Table == "" {
		bad("table", "is required: the source table")
	}
	if c.TargetTable == "" {
		bad("target-table", "is required: the target table")
	}
	if err := sameTableError(c.tableFlags, c.writeFlags, true); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.tableFlags.roleFlags.validate()...)
	if c.QueueURL == "" && c.FailureFile == "" {
		bad("failure-file", "is required (or --queue-url)")
	}
	if c.MaxMessages < 0 {
		bad("max-messages", "%d must not be negative", c.MaxMessages)
	}
	if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > 12*time.Hour {
		bad("visibility-timeout", "%s must be 1s to 12h", c.VisibilityTimeout)
	}
	return errors.Join(errs...)
}

var redriveHelp = `Usage: ddbsync redrive --table SOURCE --target-table TARGET [--failure-file FILE | --queue-url URL] [flags]

Repairs the keys of the batches that exhausted their retries. Lambda (and
ddbsync run) sends only a batch's metadata to the on-failure destination:
the shard and the first and last sequence numbers (DDBStreamBatchInfo).
For each on-failure record, redrive reads that range back from the stream
(GetShardIterator AT_SEQUENCE_NUMBER) and brings each of its keys to the
source's current value, as ddbsync repair does: a conditional write,
re-read until both tables agree. It never writes the batch's old stream
images. Changes made after a key's repair reach the target through the
stream as usual. A record is removed from the queue (or moved from the
file to FILE.done) only when every key of its batch was repaired.

Fix the cause first (the target's schema, permissions, a bug): a key that
still cannot be written is named (its key only) and its batch is kept.
Stream records are kept 24 hours; when a batch's records have expired,
their keys are unknown and redrive says so: run ddbsync verify --repair,
which finds and fixes every difference. --drop-expired then removes those
records.

With --rules FILE the records' keys and images go through the rule set
to the target keys to repair: the new one and, for a re-key or an item
that left the filter, the old one.

` + guardRailsHelp + `
Do not run it on the failure file of a ddbsync run that is still writing.

` + exitStatusHelp("batches are left (kept for another redrive, or expired), or the plan was\n       declined; when interrupted (130) the batch in flight is kept") + `
Examples:
  ddbsync redrive --table orders --target-table orders-copy --failure-file ddbsync-failures.jsonl --dry-run
  ddbsync redrive --table orders --target-table orders-copy --yes \
      --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/orders-replicator-failures
`

// Run parses args and redrives every failed batch.
func (c *RedriveCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync redrive` bound to the global flags g.
func (c *RedriveCommand) command(g *globalFlags) *cobra.Command {
	cfg := RedriveConfig{}
	cmd := &cobra.Command{
		Use:         "redrive",
		Short:       "replay the batches in the failure file or queue once their cause is fixed",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: redriveHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.global(g)
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

// run redrives with the parsed configuration.
func (c *RedriveCommand) run(ctx context.Context, cfg RedriveConfig) error {
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync redrive --help"}
	}
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	var src redrive.Source
	var from string
	if cfg.QueueURL != "" {
		api := c.queue
		if api == nil {
			api = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
				if cfg.SQSEndpoint != "" {
					o.BaseEndpoint = aws.String(cfg.SQSEndpoint)
				}
			})
		}
		q := redrive.NewQueue(api, cfg.QueueURL, redrive.QueueOptions{MaxMessages: cfg.MaxMessages, VisibilityTimeout: cfg.VisibilityTimeout})
		n, err := q.Approximate(ctx)
		if err != nil {
			return err
		}
		src, from = q, fmt.Sprintf("about %d batches in queue %s", n, cfg.QueueURL)
	} else {
		f, err := redrive.OpenFile(cfg.FailureFile)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(c.Stdout, "redrive: no failure file %s: nothing to redrive\n", cfg.FailureFile)
			return nil
		}
		if err != nil {
			return err
		}
		src, from = f, fmt.Sprintf("%d batches in failure file %s", f.Len(), cfg.FailureFile)
	}
	rs, srcInfo, err := c.confirm(ctx, cfg, awsCfg, from)
	if err != nil {
		_ = src.Close(ctx) // nothing was taken from it
		return err
	}

	logger := (tableFlags{}).logger(c.Stderr)
	r := &redrive.Redriver{
		Streams: newStreams(awsCfg, cfg.Endpoint), Table: cfg.Table, DryRun: cfg.DryRun, DropExpired: cfg.DropExpired,
		Repairer: tablesync.NewRepairer(newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.Table,
			cfg.targetClient(awsCfg, 0, true), cfg.TargetTable, tablesync.RepairOptions{DryRun: cfg.DryRun, Logger: logger, Attrs: cfg.attrs(),
				Rules: rs, SourceKeys: srcInfo.Keys}),
		Options: redrive.Options{Rules: rs},
	}
	t, err := r.Run(ctx, src, func(o redrive.Outcome) { printOutcome(c.Stdout, o, cfg.DryRun) })
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	err = errors.Join(err, src.Close(closeCtx))
	printTotals(c.Stdout, t, cfg.DryRun, err != nil)
	if err != nil {
		return err
	}
	left := t.Kept + t.Unreadable
	if !cfg.DropExpired {
		left += t.Expired
	}
	if left > 0 {
		return fmt.Errorf("%w: %d kept for another redrive", ErrNotRedriven, left)
	}
	if t.Expired > 0 {
		return fmt.Errorf("%w: %d batches expired; run: %s",
			ErrNotRedriven, t.Expired, suggest("verify --repair", cfg.tableFlags, cfg.Table, cfg.TargetTable, rulesArg(cfg.rulesFlag)...))
	}
	return nil
}

// confirm loads the rule set, checks the tables (both exist, the target
// keyed as the rules say, the target is not a replicated source) and shows
// the plan; it returns the rule set and the source's description when the
// redrive may write (in a dry run, after the plan).
func (c *RedriveCommand) confirm(ctx context.Context, cfg RedriveConfig, awsCfg aws.Config, from string) (*rules.RuleSet, tablesync.TableInfo, error) {
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return nil, tablesync.TableInfo{}, err
	}
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	src, dst := newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.targetClient(awsCfg, 0, true)
	srcInfo, dstInfo, err := describeTables(ctx, src, dst, cfg.tableFlags, cfg.writeFlags, loc, "redrive", rs)
	if err != nil {
		return nil, srcInfo, err
	}
	plan := Plan{
		Command: "redrive", Source: cfg.Table, Target: cfg.TargetTable, Account: loc.account(),
		Region: loc.Region, TargetRegion: loc.TargetRegion, Endpoint: loc.Endpoint, Rules: planLines(rs, srcInfo, dstInfo),
		Actions: []string{
			"read " + from + " back from the stream of table " + cfg.Table,
			"bring each of their keys in " + cfg.TargetTable + " to the source's current value (put, or delete)",
		},
	}
	if cfg.DryRun {
		plan.Actions = append(plan.Actions, "dry run: each key is re-read and compared, nothing is written")
		plan.Print(c.Stderr)
		return rs, srcInfo, nil
	}
	ask := confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr}
	args := append(append(rulesArg(cfg.rulesFlag), cfg.sourceArgs()...), "--yes")
	return rs, srcInfo, ask.confirm(plan, cfg.Yes, suggest("redrive", cfg.tableFlags, cfg.Table, cfg.TargetTable, args...))
}

// sourceArgs are the flags that say where the failure records are, for a
// hint that repeats the command.
func (c RedriveConfig) sourceArgs() []string {
	if c.QueueURL == "" {
		return []string{"--failure-file", shellQuote(c.FailureFile)}
	}
	args := []string{"--queue-url", shellQuote(c.QueueURL)}
	if c.SQSEndpoint != "" {
		args = append(args, "--sqs-endpoint-url", shellQuote(c.SQSEndpoint))
	}
	if c.MaxMessages > 0 {
		args = append(args, "--max-messages", strconv.Itoa(c.MaxMessages))
	}
	if c.VisibilityTimeout != redrive.DefaultVisibilityTimeout {
		args = append(args, "--visibility-timeout", c.VisibilityTimeout.String())
	}
	if c.DropExpired {
		args = append(args, "--drop-expired")
	}
	return args
}

// printOutcome prints one batch's outcome: counts, the keys that failed,
// and in a dry run the keys that would be written. Keys only, never values.
func printOutcome(w io.Writer, o redrive.Outcome, dryRun bool) {
	if o.Status == redrive.StatusUnreadable {
		fmt.Fprintf(w, "kept %s: %v\n", o.Message.Where, o.Err)
		return
	}
	b := o.Batch
	batch := fmt.Sprintf("shard %s %s..%s", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	res := o.Result
	counts := fmt.Sprintf("%d records, %d keys: %d put, %d deleted, %d unchanged, %d failed", res.Records, len(res.Keys),
		res.Count(tablesync.ActionPut), res.Count(tablesync.ActionDelete), res.Count(tablesync.ActionNone), len(res.Failed()))
	if dryRun {
		counts = fmt.Sprintf("%d records, %d keys: %d to put, %d to delete, %d unchanged, %d failed", res.Records, len(res.Keys),
			res.Count(tablesync.ActionPut), res.Count(tablesync.ActionDelete), res.Count(tablesync.ActionNone), len(res.Failed()))
	}
	switch o.Status {
	case redrive.StatusRedriven:
		verb := "redriven"
		if dryRun {
			verb = "would redrive"
		}
		fmt.Fprintf(w, "%s %s (%s): %s\n", verb, batch, o.Message.Where, counts)
	case redrive.StatusExpired:
		fate := "kept"
		if o.Removed {
			fate = "removed"
		}
		fmt.Fprintf(w, "expired %s (%s, %s): %s; the records before them are no longer in the stream: run ddbsync verify --repair\n",
			batch, o.Message.Where, fate, counts)
	default:
		fmt.Fprintf(w, "kept %s (%s): %s: %v\n", batch, o.Message.Where, counts, o.Err)
	}
	for _, k := range res.Keys {
		switch {
		case k.Err != nil:
			fmt.Fprintf(w, "  failed key %s: %v\n", tablesync.KeyJSON(k.Key), k.Err)
		case dryRun && k.Action != tablesync.ActionNone:
			fmt.Fprintf(w, "  would %s %s\n", k.Action, tablesync.KeyJSON(k.Key))
		}
	}
}

// printTotals prints the summary line.
func printTotals(w io.Writer, t redrive.Totals, dryRun, stopped bool) {
	prefix, redriven, put, deleted := "redrive", "redriven", "put", "deleted"
	if dryRun {
		prefix, redriven, put, deleted = "redrive (dry run)", "would be redriven", "to put", "to delete"
	}
	if stopped {
		// Interrupted or failed: the batches not reached are in no count.
		prefix += ": not finished, so far"
	}
	fmt.Fprintf(w, "%s: %d batches %s, %d kept, %d expired, %d unreadable; %d records read, %d keys: %d %s, %d %s, %d unchanged, %d failed\n",
		prefix, t.Redriven, redriven, t.Kept, t.Expired, t.Unreadable, t.Records,
		t.Puts+t.Deletes+t.Unchanged+t.FailedKeys, t.Puts, put, t.Deletes, deleted, t.Unchanged, t.FailedKeys)
}
