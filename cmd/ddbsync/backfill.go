package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// BackfillCommand is `ddbsync backfill`: copy every item of the source
// table into the target, resumably.
type BackfillCommand struct {
	Stdout, Stderr io.Writer
	// Stdin answers "Proceed?" (default os.Stdin).
	Stdin io.Reader

	// stdinTerminal replaces the terminal check of Stdin (tests).
	stdinTerminal func() bool

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)

	// exportClients replaces the clients of --from-export (tests).
	exportClients func(cfg aws.Config, bc BackfillConfig) exportClients
	// pollInterval replaces exportload.DefaultPollInterval and the
	// execution poll interval (tests).
	pollInterval time.Duration
}

// BackfillConfig is the configuration of `ddbsync backfill`, from its flags.
type BackfillConfig struct {
	tableFlags
	scanFlags
	writeFlags
	MaxWCU        float64
	Checkpoint    string
	WriteAttempts int
	AllowNoStream bool
	exportFlags
	rulesFlag
}

func (c *BackfillConfig) flags(fs *pflag.FlagSet) {
	c.tableFlags.bind(fs)
	c.scanFlags.bind(fs)
	c.writeFlags.bind(fs, "print the plan and count the items that would be copied (a Scan of the source), but\nwrite nothing")
	c.MaxChangeShare = defaultMaxChangeShare
	fs.Float64Var(&c.MaxWCU, "max-wcu", 0, "most write capacity units a second to consume on the target (an item costs one per\nstarted KB); 0: no limit")
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "save progress to `FILE` and, if it exists, resume from it: finished segments are\nskipped, the others continue after their last written item")
	fs.IntVar(&c.WriteAttempts, "write-attempts", dynamo.DefaultMaxAttempts, "tries of each BatchWriteItem (throttling and UnprocessedItems are retried with backoff,\nas the replicator does)")
	fs.BoolVar(&c.AllowNoStream, "allow-no-stream", false, "copy even though the source has no stream with new images (a one-time copy: changes\nmade during or after it are not replicated)")
	c.exportFlags.bind(fs)
	c.rulesFlag.bind(fs)
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c BackfillConfig) Validate() error {
	errs := append(c.tableFlags.validate(), c.scanFlags.validate()...)
	if err := sameTableError(c.tableFlags, c.writeFlags, true); err != nil {
		errs = append(errs, err)
	}
	if c.MaxWCU < 0 {
		errs = append(errs, &FlagError{Flag: "max-wcu", Err: fmt.Errorf("%g must not be negative", c.MaxWCU)})
	}
	if c.FromExport != "" && c.On == onStepFunctions && c.TargetRoleARN != "" {
		// The CLI would check the target through the role while the
		// state machine's workers write with their own, in the stack's
		// account.
		errs = append(errs, &FlagError{Flag: "target-role-arn", Err: errors.New("is not used by --on step-functions: its workers write with their own role " +
			"to the stack's TargetTableName in the stack's account; deploy template-backfill.yaml in the target's account, or load with --on local")})
	}
	if c.FromExport != "" && c.On == onStepFunctions && c.RulesFile != "" {
		errs = append(errs, &FlagError{Flag: "rules", Err: errors.New("is not used by --on step-functions: the state machine's workers apply the stack's " +
			"ReplicationRules parameter (their RULES environment variable); deploy template-backfill.yaml with it, or load with --on local")})
	}
	if c.WriteAttempts < 1 || c.WriteAttempts > maxWriteAttempts {
		errs = append(errs, &FlagError{Flag: "write-attempts", Err: fmt.Errorf("%d must be 1 to %d", c.WriteAttempts, maxWriteAttempts)})
	}
	errs = append(errs, c.exportFlags.validate(c.scanFlags, c.MaxWCU)...)
	return errors.Join(errs...)
}

var backfillHelp = `Usage: ddbsync backfill --table SOURCE --target-table TARGET [flags]
       ddbsync backfill --from-export [ARN|s3://BUCKET/PREFIX] --table SOURCE --target-table TARGET [flags]

Copies every item of the source table into the target: a parallel Scan
(--segments; --segment-range lets several machines split one table) and
BatchWriteItem with the replicator's retry rules (UnprocessedItems and
throttling retried with backoff), optionally rate limited (--max-wcu). With
--checkpoint it saves each segment's position atomically and, run again
after an interruption (Ctrl-C finishes the writes in flight), continues
where it stopped without copying any item twice. A progress line on stderr
shows items/s and an ETA from the table's approximate item count.

Safe order, while the source is being written to:
  1. enable the source's stream (NEW_AND_OLD_IMAGES) and start the
     replicator, so every change from now on reaches the target;
  2. ddbsync backfill, which copies what existed before;
  3. ddbsync verify --repair, which fixes the items that changed while the
     backfill ran (a scanned item written after the replicator applied a
     newer change of it, or an item deleted after it was scanned).
Without a stream on the source, backfill refuses to start unless
--allow-no-stream is given.

From a point-in-time export (--from-export), for tables too large to scan:
no read capacity, a snapshot consistent at the export time T. Alone,
--from-export starts an export of the source into --export-to (the source
needs point-in-time recovery; the error says how to enable it) and waits for
it, showing its state; with an export's ARN it waits for that one; with an
s3:// URI it reads the export's manifests there. Every data file is checked
against manifest-files.json (MD5 and item count) before any of its items is
written, then loaded with the replicator's writer and retry rules, --workers
files at once; --files i/N splits the files between machines; --checkpoint
records each file's progress, so a rerun after Ctrl-C or a crash skips the
files done. With --on step-functions --stack NAME the stack deployed from
template-backfill.yaml loads it (a Distributed Map, one Lambda worker per
file) and backfill follows the execution.
The hand-over, with no gap (docs/export-backfill.md): before the export,
deploy the replicator with its event source mapping disabled at
TRIM_HORIZON (template.yaml StreamMappingEnabled=false; --mapping UUID
checks it); after the load, enable it, or run ddbsync run --start
at-timestamp, before the deadline (T minus --overlap, plus the stream's 24
hours), which the plan and the result print with the exact command. An
export older than 20 hours is refused unless --allow-old-export.

With --rules FILE each item goes through the rule set the copy is made
with (the replicator's RULES): filtered items are counted and not written;
an item the rules fail on, or that maps to a target key another item of
its batch took, is named by its source key and makes the exit status 1.
The target must be keyed as the rules say (docs/rules-commands.md).

` + guardRailsHelp + `A target that already has items is warned about in the plan (a resumed
backfill finds one): items with a source item's key are overwritten.
With --dry-run it counts the items it would copy (a Scan, COUNT only).

` + exitStatusHelp("the copy failed (resume with the same --checkpoint), an export's data\n       files were refused or failed (each is named), the step-functions execution\n       failed, or the plan was declined") + `
Examples:
  ddbsync backfill --table orders --target-table orders-copy --dry-run
  ddbsync backfill --table orders --target-table orders-copy --checkpoint orders.ckpt --yes
  ddbsync backfill --table orders --target-table orders-copy --segments 64 \
      --segment-range 0-31 --max-wcu 2000 --checkpoint orders-0-31.ckpt
  ddbsync backfill --table orders --target-table orders-copy --from-export \
      --export-to s3://my-exports/orders --workers 8 --checkpoint orders.ckpt
  ddbsync backfill --table orders --target-table orders-copy --files 1/4 \
      --from-export s3://my-exports/orders/AWSDynamoDB/01700000000000-abcdef01 \
      --checkpoint orders-1-4.ckpt --yes
  ddbsync backfill --table orders --target-table orders-copy --from-export \
      --on step-functions --stack orders-backfill
`

// Run parses args and copies the table.
func (c *BackfillCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync backfill` bound to the global flags g.
func (c *BackfillCommand) command(g *globalFlags) *cobra.Command {
	cfg := BackfillConfig{}
	cmd := &cobra.Command{
		Use:         "backfill",
		Short:       "copy every item of the source into the target, resumably",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: backfillHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.global(g)
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	cmd.Args = exportArgs(&cfg.exportFlags)
	return cmd
}

// run copies the table with the parsed configuration.
func (c *BackfillCommand) run(ctx context.Context, cfg BackfillConfig) error {
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync backfill --help"}
	}
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	if cfg.FromExport != "" {
		return c.runExport(ctx, cfg, awsCfg)
	}
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return err
	}
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	src := newReadClient(awsCfg, cfg.Endpoint, "", cfg.callsInFlight())
	dstAPI := cfg.targetClient(awsCfg, cfg.callsInFlight(), false)
	info, dstInfo, err := describeTables(ctx, src, dstAPI, cfg.tableFlags, cfg.writeFlags, loc, "backfill", rs)
	if err != nil {
		return err
	}
	if !info.StreamReady() {
		what := "no stream"
		if info.StreamEnabled {
			what = "a " + string(info.StreamViewType) + " stream, without new images,"
		}
		if !cfg.AllowNoStream {
			return &awsError{err: fmt.Errorf("source table %s has %s so changes made during the backfill would be lost: "+
				"enable a NEW_AND_OLD_IMAGES stream and start the replicator first, or pass --allow-no-stream for a one-time copy", cfg.Table, what)}
		}
		fmt.Fprintf(c.Stderr, "ddbsync backfill: warning: source table %s has %s: changes made during or after this copy will not reach %s\n",
			cfg.Table, what, cfg.TargetTable)
	}
	plan := backfillPlan(cfg, info, dstInfo, loc)
	plan.Account = loc.account()
	plan.Rules = planLines(rs, info, dstInfo)
	if cfg.DryRun {
		plan.Print(c.Stderr)
		n, err := countItems(ctx, src, cfg.Table, cfg.segments())
		if err != nil {
			if interrupted(ctx, err) {
				return fmt.Errorf("dry run after counting %d items, not finished: %w", n, err)
			}
			return fmt.Errorf("dry run failed after counting %d items: %w", n, err)
		}
		what := "a Scan of the segments chosen"
		if !rs.IsIdentity() {
			what += ", before the rules' filters"
		}
		fmt.Fprintf(c.Stdout, "backfill: dry run: would copy %d items from %s to %s (from %s; a --checkpoint is neither read nor written); nothing written\n",
			n, cfg.Table, cfg.TargetTable, what)
		return nil
	}
	ask := confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr}
	if err := ask.confirm(plan, cfg.Yes, suggest("backfill", cfg.tableFlags, cfg.Table, cfg.TargetTable, append(rulesArg(cfg.rulesFlag), "--yes")...)); err != nil {
		return err
	}
	target := dynamo.NewTable(dstAPI, cfg.TargetTable, dynamo.Options{Retry: retry.Policy{MaxAttempts: cfg.WriteAttempts}})
	res, err := tablesync.Backfill(ctx, src, cfg.Table, target, cfg.TargetTable, tablesync.BackfillOptions{
		Segments:   cfg.segments(),
		PageSize:   int32(cfg.PageSize),
		MaxWCU:     cfg.MaxWCU,
		Checkpoint: cfg.Checkpoint,
		Progress:   cfg.progress(c.Stderr, "backfill"),
		Logger:     cfg.logger(c.Stderr),
		Rules:      rs,
	})
	printItemFailures(c.Stderr, "backfill", res.FailedItems, res.Failed)
	if err != nil {
		what := "failed after"
		if interrupted(ctx, err) {
			what = "after" // main reports it as "interrupted: ..."
		}
		err = fmt.Errorf("%s %d items copied in %s, not finished: %w", what, res.Copied, res.Elapsed.Round(time.Millisecond), err)
		if cfg.Checkpoint != "" {
			return fmt.Errorf("%w (run the same command again to resume from %s)", err, cfg.Checkpoint)
		}
		return err
	}
	rate := float64(res.Copied) / max(res.Elapsed.Seconds(), 1e-9)
	next := suggest("verify --repair", cfg.tableFlags, cfg.Table, cfg.TargetTable, rulesArg(cfg.rulesFlag)...)
	if cfg.Output == outputJSON || cfg.Output == outputJSONL {
		return writeJSON(c.Stdout, backfillReport{
			Command: "backfill", Source: cfg.Table, Target: cfg.TargetTable,
			Scanned: res.Scanned, Copied: res.Copied, Resumed: res.Resumed, Segments: res.Segments, SegmentsSkipped: res.Skipped,
			WriteUnits: res.WriteUnits, Retries: res.Retries, ElapsedSeconds: res.Elapsed.Seconds(), ItemsPerSecond: rate, Next: next,
			Filtered: filteredCount(rs, res.Filtered),
		})
	}
	fmt.Fprintf(c.Stdout, "backfill: %d items copied from %s to %s in %s (%.0f items/s, %.0f WCU)",
		res.Copied, cfg.Table, cfg.TargetTable, res.Elapsed.Round(time.Millisecond), rate, res.WriteUnits)
	if res.Resumed > 0 || res.Skipped > 0 {
		fmt.Fprintf(c.Stdout, "; %d copied before, %d of %d segments already done", res.Resumed, res.Skipped, res.Segments)
	}
	if !rs.IsIdentity() {
		fmt.Fprintf(c.Stdout, "; %d filtered out by the rules", res.Filtered)
	}
	fmt.Fprintln(c.Stdout)
	fmt.Fprintf(c.Stdout, "next: %s\n", next)
	return nil
}

// backfillReport is backfill's result with --output json or jsonl.
type backfillReport struct {
	Command         string  `json:"command"`
	Source          string  `json:"source"`
	Target          string  `json:"target"`
	Scanned         int64   `json:"scanned"`
	Copied          int64   `json:"copied"`
	Resumed         int64   `json:"copiedBefore"`
	Segments        int     `json:"segments"`
	SegmentsSkipped int     `json:"segmentsSkipped"`
	WriteUnits      float64 `json:"writeUnits"`
	Retries         int     `json:"retries"`
	ElapsedSeconds  float64 `json:"elapsedSeconds"`
	ItemsPerSecond  float64 `json:"itemsPerSecond"`
	Next            string  `json:"next"`
	// Filtered counts the items the rules left out (with --rules only).
	Filtered *int64 `json:"filtered,omitempty"`
}

// backfillPlan says what the backfill will write. A non-empty target is
// warned about, not refused: a resumed backfill, or one started after the
// replicator (the safe order), finds one.
func backfillPlan(cfg BackfillConfig, src, dst tablesync.TableInfo, loc location) Plan {
	p := Plan{
		Command: "backfill", Source: cfg.Table, Target: cfg.TargetTable,
		Region: loc.Region, TargetRegion: loc.TargetRegion, Endpoint: loc.Endpoint,
		Actions: []string{fmt.Sprintf("put every item of %s in %s (about %d items, DynamoDB's approximate count; BatchWriteItem replaces an item with the same key)",
			cfg.Table, cfg.TargetTable, src.ItemCount)},
	}
	if cfg.SegmentRange != "" {
		p.Actions[0] += fmt.Sprintf(", segments %s of %d", cfg.SegmentRange, cfg.Segments)
	}
	if cfg.Checkpoint != "" {
		if _, err := os.Stat(cfg.Checkpoint); err == nil {
			p.Actions = append(p.Actions, "resume from checkpoint "+cfg.Checkpoint)
		}
	}
	if dst.ItemCount > 0 {
		share := ""
		if src.ItemCount > 0 && float64(dst.ItemCount) > cfg.MaxChangeShare*float64(src.ItemCount) {
			share = "; most of them may be overwritten"
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("target table %s is not empty (about %d items): those with a source item's key will be overwritten with the source's value%s",
			cfg.TargetTable, dst.ItemCount, share))
	}
	return p
}

// countItems counts the items of the chosen segments of table (Scan with
// Select COUNT), the segments one after the other.
func countItems(ctx context.Context, api tablesync.Scanner, table string, segs tablesync.Segments) (int64, error) {
	only := segs.Only
	if only == nil {
		for seg := range segs.Total {
			only = append(only, seg)
		}
	}
	var n int64
	for _, seg := range only {
		in := &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount,
			Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(segs.Total))}
		for {
			out, err := api.Scan(ctx, in)
			if err != nil {
				return n, fmt.Errorf("count items of %s: %w", table, err)
			}
			n += int64(out.Count)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return n, nil
}

// The flags and helpers below are shared by backfill, verify and repair.

// tableFlags name the two tables and where they are.
type tableFlags struct {
	Table, TargetTable             string
	Profile                        string
	Endpoint, Region, TargetRegion string
	ProgressInterval               time.Duration
	Quiet                          bool
	Output                         string
	roleFlags
	// The attributes the queue path keeps in target items.
	SeqAttribute, TombstoneAttribute, TombstoneTTLAttribute string
}

func (t *tableFlags) bind(fs *pflag.FlagSet) {
	t.bindTables(fs)
	fs.DurationVar(&t.ProgressInterval, "progress-interval", 0, "how often to refresh the progress line on stderr, with its rate and ETA (default: 1s\non a terminal; when piped, no progress line unless this is set; with --output json\nor jsonl, a JSON progress event every 1s)")
	t.bindAttrs(fs)
}

// bindTables adds --table, --target-table and --target-region.
func (t *tableFlags) bindTables(fs *pflag.FlagSet) {
	fs.StringVar(&t.Table, "table", "", "`NAME` of the source table (required; --table-name is the same)")
	fs.StringVar(&t.TargetTable, "target-table", "", "`NAME` of the target table (required)")
	fs.StringVar(&t.TargetRegion, "target-region", "", "`REGION` of the target table (default: --region)")
	t.roleFlags.bind(fs)
}

// global copies the global flags into t.
func (t *tableFlags) global(g *globalFlags) {
	t.Profile, t.Endpoint, t.Region, t.Quiet, t.Output = g.Profile, g.Endpoint, g.Region, g.Quiet, g.Output
}

// attrs returns the names of the queue path's attributes.
// bindAttrs adds the flags of the queue path's attribute names.
func (t *tableFlags) bindAttrs(fs *pflag.FlagSet) {
	fs.StringVar(&t.SeqAttribute, "seq-attribute", replattr.DefaultSeq, "`NAME` of the sequence attribute the queue path keeps in target items (the Lambda's\nSEQ_ATTRIBUTE)")
	fs.StringVar(&t.TombstoneAttribute, "tombstone-attribute", replattr.DefaultDeleted, "`NAME` of the attribute that marks a queue-path tombstone (a deleted item's marker)")
	fs.StringVar(&t.TombstoneTTLAttribute, "tombstone-ttl-attribute", replattr.DefaultExpires, "`NAME` of a tombstone's expiry attribute, for DynamoDB TTL")
}

func (t tableFlags) attrs() replattr.Names {
	return replattr.Names{Seq: t.SeqAttribute, Deleted: t.TombstoneAttribute, Expires: t.TombstoneTTLAttribute}
}

func (t tableFlags) validate() []error {
	var errs []error
	if t.Table == "" {
		errs = append(errs, &FlagError{Flag: "table", Err: errors.New("is required: the source table")})
	}
	if t.TargetTable == "" {
		errs = append(errs, &FlagError{Flag: "target-table", Err: errors.New("is required: the target table")})
	}
	attrs := map[string]string{}
	for _, a := range []struct{ flag, name string }{
		{"seq-attribute", t.SeqAttribute}, {"tombstone-attribute", t.TombstoneAttribute}, {"tombstone-ttl-attribute", t.TombstoneTTLAttribute},
	} {
		switch other, dup := attrs[a.name]; {
		case a.name == "":
			errs = append(errs, &FlagError{Flag: a.flag, Err: errors.New("must not be empty")})
		case dup:
			errs = append(errs, &FlagError{Flag: a.flag, Err: fmt.Errorf("%q is also --%s", a.name, other)})
		}
		attrs[a.name] = a.flag
	}
	errs = append(errs, t.roleFlags.validate()...)
	if t.ProgressInterval < 0 || (t.ProgressInterval > 0 && t.ProgressInterval < 100*time.Millisecond) {
		errs = append(errs, &FlagError{Flag: "progress-interval", Err: fmt.Errorf("%s must be at least 100ms", t.ProgressInterval)})
	}
	return errs
}

// progress returns the progress settings of command for w: a line
// redrawn in place on a terminal; nothing when piped unless
// --progress-interval is set; with --output json or jsonl, JSON progress
// events (docs/progress.md), one a second by default, terminal or not.
func (t tableFlags) progress(w io.Writer, command string) tablesync.Progress {
	if t.Quiet {
		return tablesync.Progress{}
	}
	if t.Output == outputJSON || t.Output == outputJSONL {
		return tablesync.Progress{W: w, Interval: cmp.Or(t.ProgressInterval, time.Second), JSON: true, Command: command}
	}
	tty := isTerminal(w)
	interval := t.ProgressInterval
	switch {
	case interval > 0:
	case tty:
		interval = time.Second
	default:
		return tablesync.Progress{} // piped: no progress unless asked for
	}
	return tablesync.Progress{W: w, Redraw: tty, Interval: interval}
}

// logger returns the library logger: warnings and errors go to w.
func (t tableFlags) logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// scanFlags choose the Scan segments.
type scanFlags struct {
	Segments     int
	SegmentRange string
	Concurrency  int
	PageSize     int
}

func (s *scanFlags) bind(fs *pflag.FlagSet) {
	fs.IntVar(&s.Segments, "segments", tablesync.DefaultSegments, "parallel Scan segments (TotalSegments), 1 to "+strconv.Itoa(tablesync.MaxSegments))
	fs.StringVar(&s.SegmentRange, "segment-range", "", "read only segments `A-B` (inclusive, of --segments), to split a table between machines\n(default: all)")
	fs.IntVar(&s.Concurrency, "concurrency", 0, "segments read at once (default: --segments, at most "+strconv.Itoa(tablesync.DefaultConcurrency)+")")
	fs.IntVar(&s.PageSize, "page-size", 0, "items per Scan page (Scan's Limit; default: 1 MB pages)")
}

func (s scanFlags) validate() []error {
	var errs []error
	if s.Segments < 1 || s.Segments > tablesync.MaxSegments {
		errs = append(errs, &FlagError{Flag: "segments", Err: fmt.Errorf("%d must be 1 to %d", s.Segments, tablesync.MaxSegments)})
	}
	if s.SegmentRange != "" {
		if _, err := parseSegmentRange(s.SegmentRange, s.Segments); err != nil {
			errs = append(errs, &FlagError{Flag: "segment-range", Err: err})
		}
	}
	if s.Concurrency < 0 || s.Concurrency > tablesync.MaxConcurrency {
		errs = append(errs, &FlagError{Flag: "concurrency", Err: fmt.Errorf("%d must be 1 to %d", s.Concurrency, tablesync.MaxConcurrency)})
	}
	if s.PageSize < 0 {
		errs = append(errs, &FlagError{Flag: "page-size", Err: fmt.Errorf("%d must not be negative", s.PageSize)})
	}
	return errs
}

// segments returns the validated segment choice.
func (s scanFlags) segments() tablesync.Segments {
	var only []int
	if s.SegmentRange != "" {
		only, _ = parseSegmentRange(s.SegmentRange, s.Segments)
	}
	return tablesync.Segments{Total: s.Segments, Only: only, Concurrency: s.Concurrency}
}

// callsInFlight bounds the calls in flight on one table (four per segment
// read at once), for the connection pool.
func (s scanFlags) callsInFlight() int {
	c := s.Concurrency
	if c == 0 {
		c = min(s.Segments, tablesync.DefaultConcurrency)
	}
	return 4 * c
}

// parseSegmentRange parses "A-B" (or "A") into the segments A to B.
func parseSegmentRange(v string, total int) ([]int, error) {
	lo, hi, found := strings.Cut(v, "-")
	if !found {
		hi = lo
	}
	a, errA := strconv.Atoi(lo)
	b, errB := strconv.Atoi(hi)
	switch {
	case errA != nil || errB != nil:
		return nil, fmt.Errorf("%q is not A-B", v)
	case a < 0 || b < a || b >= total:
		return nil, fmt.Errorf("%q must satisfy 0 <= A <= B < --segments (%d)", v, total)
	}
	only := make([]int, 0, b-a+1)
	for seg := a; seg <= b; seg++ {
		only = append(only, seg)
	}
	return only, nil
}

// loadConfig loads the AWS configuration with load, or the default chain
// for profile.
func loadConfig(ctx context.Context, load func(context.Context, string) (aws.Config, error), region, profile string) (aws.Config, error) {
	if load == nil {
		return loadAWSConfig(ctx, region, profile)
	}
	return load(ctx, region)
}

// newReadClient returns a DynamoDB client with the SDK's standard retries
// and a connection pool for conns calls in flight (the SDK keeps 10 idle
// connections, which would make a wide scan open and close connections).
func newReadClient(cfg aws.Config, endpoint, region string, conns int) *dynamodb.Client {
	return dynamo.NewClient(cfg, dynamo.ClientOptions{Region: region, Endpoint: endpoint, Conns: conns, SDKRetries: true})
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
