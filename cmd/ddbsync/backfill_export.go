package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/stepfn"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Values of --from-export and --on.
const (
	exportNew         = "new"
	onLocal           = "local"
	onStepFunctions   = "step-functions"
	exportsFolder     = "AWSDynamoDB"
	maxExportsListed  = 5
	exportPlanCommand = "backfill --from-export"
)

// exportFlags are the flags of `ddbsync backfill --from-export`.
type exportFlags struct {
	// FromExport is "" (a Scan backfill), "new", an export ARN or an
	// s3:// URI of an export's folder (or of the prefix holding one).
	FromExport string
	// ExportTo is where a new export is written: s3://bucket[/prefix].
	ExportTo       string
	Workers        int
	Files          string
	Overlap        time.Duration
	AllowOldExport bool
	Mapping        string
	S3Endpoint     string
	On             string
	Stack          string
	ExecutionName  string
}

func (e *exportFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&e.FromExport, "from-export", "", "load a point-in-time export instead of scanning the source: an export's `ARN`, an\n"+
		"s3://bucket/prefix of one (its AWSDynamoDB/ID folder, or the prefix holding a single\n"+
		"export), or alone (or \"new\") to start a new export of --table into --export-to")
	fs.Lookup("from-export").NoOptDefVal = exportNew
	fs.StringVar(&e.ExportTo, "export-to", "", "with --from-export alone: `s3://BUCKET[/PREFIX]` to write the new export to (default with\n--on step-functions: the stack's ExportBucket)")
	fs.IntVar(&e.Workers, "workers", exportload.DefaultWorkers, fmt.Sprintf("with --from-export: data files loaded at once on this machine (1 to %d), each with %d\nBatchWriteItem calls in flight", exportload.MaxWorkers, exportload.DefaultConcurrency))
	fs.StringVar(&e.Files, "files", "", "with --from-export: load only share `i/N` of the export's data files (every Nth file from\nthe i-th), to split one export between N machines, each with its own --checkpoint")
	fs.DurationVar(&e.Overlap, "overlap", exportload.DefaultOverlap, "with --from-export: how long before the export time the stream is applied again after\nthe load (it covers the rounding of the records' creation times)")
	fs.BoolVar(&e.AllowOldExport, "allow-old-export", false, fmt.Sprintf("with --from-export: load an export older than %s anyway (one past its hand-over\ndeadline, export time minus --overlap plus the stream's 24 h, is always refused)", exportload.DefaultMaxExportAge))
	fs.StringVar(&e.Mapping, "mapping", "", "with --from-export: `UUID` of the replicator's event source mapping, checked before the\nload: it must be disabled, at TRIM_HORIZON, and not have run since the export time minus\n--overlap")
	fs.StringVar(&e.S3Endpoint, "s3-endpoint-url", "", "`URL` of S3, where exports are (default: AWS, or AWS_ENDPOINT_URL_S3); path-style requests")
	fs.StringVar(&e.On, "on", onLocal, "with --from-export: `WHERE` to load: local (this machine, --workers at once) or\nstep-functions (the Distributed Map of the --stack deployed from template-backfill.yaml)")
	fs.StringVar(&e.Stack, "stack", "", "with --on step-functions: `NAME` of the stack deployed from template-backfill.yaml")
	fs.StringVar(&e.ExecutionName, "execution-name", "", "with --on step-functions: `NAME` of the execution (default: ddbsync-EXPORT_ID, so that a\nrerun follows the execution already running instead of starting another)")
}

// validate checks the export flags against the Scan flags they exclude.
func (e exportFlags) validate(s scanFlags, maxWCU float64) []error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FlagError{Flag: flag, Err: fmt.Errorf(format, args...)})
	}
	if e.FromExport == "" {
		for flag, set := range map[string]bool{
			"export-to": e.ExportTo != "", "files": e.Files != "", "mapping": e.Mapping != "", "allow-old-export": e.AllowOldExport,
			"workers": e.Workers != exportload.DefaultWorkers, "on": e.On != onLocal, "stack": e.Stack != "", "execution-name": e.ExecutionName != "",
		} {
			if set {
				bad(flag, "needs --from-export")
			}
		}
		return errs
	}
	switch src := e.FromExport; {
	case src == exportNew:
		if e.ExportTo == "" && e.On != onStepFunctions {
			bad("export-to", "is required with --from-export alone: s3://BUCKET[/PREFIX] to write the new export to")
		}
	case strings.HasPrefix(src, "arn:"):
		if !strings.Contains(src, ":table/") || !strings.Contains(src, "/export/") {
			bad("from-export", "%q is not an export ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/export/ID)", src)
		}
	case strings.HasPrefix(src, "s3://"):
		if _, _, err := exportload.ParseS3URI(src); err != nil {
			bad("from-export", "%v", err)
		}
	default:
		bad("from-export", "%q must be an export ARN, an s3:// URI, or nothing (a new export)", src)
	}
	if e.ExportTo != "" {
		if e.FromExport != exportNew {
			bad("export-to", "is for a new export (--from-export alone), not with --from-export %s", e.FromExport)
		} else if _, _, err := exportload.ParseS3URI(e.ExportTo); err != nil {
			bad("export-to", "%v", err)
		}
	}
	if _, err := exportload.ParseSplit(e.Files); err != nil {
		bad("files", "%v", err)
	}
	if e.Workers < 1 || e.Workers > exportload.MaxWorkers {
		bad("workers", "%d must be 1 to %d", e.Workers, exportload.MaxWorkers)
	}
	if e.Overlap < time.Second || e.Overlap > time.Hour {
		bad("overlap", "%s must be 1s to 1h", e.Overlap)
	}
	switch e.On {
	case onLocal:
		if e.Stack != "" || e.ExecutionName != "" {
			bad("stack", "needs --on step-functions")
		}
	case onStepFunctions:
		if e.Stack == "" {
			bad("stack", "is required with --on step-functions: the stack deployed from template-backfill.yaml")
		}
		if e.Files != "" || e.Workers != exportload.DefaultWorkers {
			bad("files", "--files and --workers are for --on local; the state machine's MaxConcurrency parameter sets the parallelism")
		}
	default:
		bad("on", "%q must be local or step-functions", e.On)
	}
	if s.SegmentRange != "" || s.Segments != tablesync.DefaultSegments || s.Concurrency != 0 || s.PageSize != 0 || maxWCU != 0 {
		bad("from-export", "reads no table: --segments, --segment-range, --concurrency, --page-size and --max-wcu are for a Scan backfill")
	}
	return errs
}

// exportArgs accepts `--from-export ARN` written with a space: the flag's
// value is optional (alone it starts a new export), so pflag leaves the
// ARN or URI as an argument, which is taken back here.
func exportArgs(e *exportFlags) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 && e.FromExport == exportNew &&
			(strings.HasPrefix(args[0], "arn:") || strings.HasPrefix(args[0], "s3://") || args[0] == exportNew) {
			e.FromExport = args[0]
			return nil
		}
		return noArgs(cmd, args)
	}
}

// exportClients are the AWS APIs of --from-export.
type exportClients struct {
	Exports exportload.ExportAPI
	S3      exportS3
	Mapping exportload.MappingAPI
	// StepFunctions and Stacks serve --on step-functions.
	StepFunctions stepFunctionsAPI
	Stacks        stackAPI
}

// exportS3 is the part of *s3.Client --from-export calls.
type exportS3 interface {
	exportload.ObjectAPI
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// defaultExportClients builds the SDK clients of --from-export.
func defaultExportClients(cfg aws.Config, bc BackfillConfig) exportClients {
	return exportClients{
		Exports: newDynamoDB(cfg, bc.Endpoint, ""),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			if bc.S3Endpoint != "" {
				o.BaseEndpoint = aws.String(bc.S3Endpoint)
				o.UsePathStyle = true
			}
		}),
		Mapping:       lambda.NewFromConfig(cfg),
		StepFunctions: newStepFunctions(cfg),
		Stacks:        newStacks(cfg),
	}
}

// exportRef is the export to load: where its manifests are.
type exportRef struct {
	ARN         string // empty for an s3:// export not yet read
	Bucket, Dir string
}

// URI returns the export's folder as an s3:// URI.
func (r exportRef) URI() string { return "s3://" + r.Bucket + "/" + r.Dir }

// runExport is `ddbsync backfill --from-export`.
func (c *BackfillCommand) runExport(ctx context.Context, cfg BackfillConfig, awsCfg aws.Config) error {
	clients := defaultExportClients
	if c.exportClients != nil {
		clients = c.exportClients
	}
	cl := clients(awsCfg, cfg)
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	conns := cfg.Workers * exportload.DefaultConcurrency
	src := newReadClient(awsCfg, cfg.Endpoint, "", 4)
	dstAPI := cfg.targetClient(awsCfg, conns, false)
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return err
	}
	var stack backfillStack
	if cfg.On == onStepFunctions {
		// The workers apply the stack's rule set: the target is checked
		// against it.
		if stack, err = findBackfillStack(ctx, cl.Stacks, cfg.Stack); err != nil {
			return err
		}
		if stack.Rules != "" {
			if rs, err = rules.ParseEnv(stack.Rules); err != nil {
				return refused(fmt.Sprintf("stack %s's %s parameter: %v", cfg.Stack, stepfn.ParamRules, err), "ddbsync rules check FILE")
			}
			rs.Source = "stack " + cfg.Stack + " " + stepfn.ParamRules
		}
	}
	info, dstInfo, err := describeTables(ctx, src, dstAPI, cfg.tableFlags, cfg.writeFlags, loc, "backfill", rs)
	if err != nil {
		return err
	}
	r := &exportRun{BackfillCommand: c, cfg: cfg, cl: cl, loc: loc, src: src, dst: dstAPI, info: info, dstInfo: dstInfo, rs: rs}
	if !info.StreamReady() {
		if !cfg.AllowNoStream {
			return &awsError{err: fmt.Errorf("source table %s has no stream with new images, so there is nothing to hand over to after the load: "+
				"enable a NEW_AND_OLD_IMAGES stream (and deploy the replicator, its mapping disabled) before the export, or pass --allow-no-stream for a one-time copy", cfg.Table)}
		}
		fmt.Fprintf(c.Stderr, "ddbsync backfill: warning: source table %s has no stream with new images: changes made after the export will not reach %s\n", cfg.Table, cfg.TargetTable)
	}
	if cfg.On == onStepFunctions {
		if stack.TargetTable != "" && stack.TargetTable != cfg.TargetTable {
			return refused(fmt.Sprintf("stack %s loads table %s (its TargetTableName), not --target-table %s", cfg.Stack, stack.TargetTable, cfg.TargetTable),
				"ddbsync backfill --help")
		}
	}
	plan := Plan{Command: exportPlanCommand, Source: cfg.Table, Target: cfg.TargetTable,
		Region: loc.Region, TargetRegion: loc.TargetRegion, Endpoint: loc.Endpoint, Rules: planLines(rs, info, dstInfo)}
	targetWarning(&plan, cfg, info, dstInfo)
	r.plan, r.stack = plan, stack
	if cfg.FromExport == exportNew {
		return r.newExport(ctx)
	}
	ref, err := c.resolveExport(ctx, cfg, cl)
	if err != nil {
		return err
	}
	return r.loadExport(ctx, ref, false)
}

// exportRun is the state of one `ddbsync backfill --from-export`.
type exportRun struct {
	*BackfillCommand
	cfg           BackfillConfig
	cl            exportClients
	loc           location
	src, dst      *dynamodb.Client
	info, dstInfo tablesync.TableInfo
	stack         backfillStack
	plan          Plan
	rs            *rules.RuleSet // the rule set the copy is made with
}

// targetWarning warns in the plan about a target that is not empty.
func targetWarning(p *Plan, cfg BackfillConfig, src, dst tablesync.TableInfo) {
	if dst.ItemCount > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("target table %s is not empty (about %d items): those with an exported item's key will be overwritten with the snapshot's value",
			cfg.TargetTable, dst.ItemCount))
	}
}

// newExport checks point-in-time recovery, asks, starts an export of the
// source, waits for it and loads it.
func (c *exportRun) newExport(ctx context.Context) error {
	cfg, cl, loc, plan, info, stack := c.cfg, c.cl, c.loc, c.plan, c.info, c.stack
	dest := cfg.ExportTo
	if dest == "" {
		dest = "s3://" + stack.Bucket
	}
	bucket, prefix, err := exportload.ParseS3URI(dest)
	if err != nil {
		return &usageError{err: &FlagError{Flag: "export-to", Err: err}, hint: "ddbsync backfill --help"}
	}
	d, err := c.src.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.Table)})
	if err != nil {
		return fmt.Errorf("describe %s: %w", loc.where(cfg.Table, false), err)
	}
	tableARN := aws.ToString(d.Table.TableArn)
	if err := exportload.CheckPITR(ctx, cl.Exports, tableARN); err != nil {
		if errors.Is(err, exportload.ErrPITRDisabled) {
			return &awsError{err: err}
		}
		return err
	}
	plan.Account = loc.account()
	plan.Actions = []string{
		fmt.Sprintf("start a point-in-time export of %s to %s (ExportTableToPointInTime, DynamoDB JSON; no read capacity, billed per GB of table size) and wait for it", cfg.Table, dest),
		fmt.Sprintf("then load it into %s (about %d items, DynamoDB's approximate count; BatchWriteItem replaces an item with the same key)%s", cfg.TargetTable, info.ItemCount, c.where(cfg)),
	}
	if cfg.DryRun {
		plan.Print(c.Stderr)
		fmt.Fprintf(c.Stdout, "backfill: dry run: point-in-time recovery is on for %s; would start an export to %s and load about %d items into %s; nothing started or written\n",
			cfg.Table, dest, info.ItemCount, cfg.TargetTable)
		return nil
	}
	if err := c.ask(plan, cfg); err != nil {
		return err
	}
	arn, err := exportload.StartExport(ctx, cl.Exports, exportload.ExportRequest{TableARN: tableARN, Bucket: bucket, Prefix: prefix})
	if err != nil {
		return err
	}
	if !cfg.Quiet {
		fmt.Fprintf(c.Stderr, "ddbsync backfill: export started: %s\n", arn)
	}
	ref, err := c.waitExport(ctx, cfg, cl, arn)
	if err != nil {
		return err
	}
	c.plan = plan
	return c.loadExport(ctx, ref, true)
}

// where says where the load runs, for the plan.
func (c *BackfillCommand) where(cfg BackfillConfig) string {
	if cfg.On == onStepFunctions {
		return ", by the state machine of stack " + cfg.Stack
	}
	if cfg.Files != "" {
		return ", files " + cfg.Files
	}
	return ""
}

// ask prints the plan and asks for confirmation.
func (c *BackfillCommand) ask(plan Plan, cfg BackfillConfig) error {
	ask := confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr}
	return ask.confirm(plan, cfg.Yes, exportCommandLine(cfg, "--yes"))
}

// exportCommandLine renders the backfill command line of cfg, for hints.
func exportCommandLine(cfg BackfillConfig, extra ...string) string {
	args := []string{"--from-export"}
	if cfg.FromExport != exportNew {
		args = append(args, shellQuote(cfg.FromExport))
	}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, shellQuote(v))
		}
	}
	add("--export-to", cfg.ExportTo)
	add("--s3-endpoint-url", cfg.S3Endpoint)
	if cfg.On != onLocal {
		add("--on", cfg.On)
		add("--stack", cfg.Stack)
	}
	add("--files", cfg.Files)
	if cfg.Workers != exportload.DefaultWorkers {
		add("--workers", fmt.Sprint(cfg.Workers))
	}
	add("--checkpoint", cfg.Checkpoint)
	add("--mapping", cfg.Mapping)
	line := suggest("backfill", cfg.tableFlags, cfg.Table, cfg.TargetTable, append(args, extra...)...)
	return withProfile(line, cfg.Profile)
}

// withProfile adds --profile to a ddbsync command line.
func withProfile(line, profile string) string {
	if profile == "" {
		return line
	}
	cmd, rest, _ := strings.Cut(strings.TrimPrefix(line, "ddbsync "), " ")
	return "ddbsync " + cmd + " --profile " + shellQuote(profile) + " " + rest
}

// waitExport follows an export until it is completed, with progress.
func (c *BackfillCommand) waitExport(ctx context.Context, cfg BackfillConfig, cl exportClients, arn string) (exportRef, error) {
	began := time.Now()
	pr := textProgress(cfg.progress(c.Stderr, "backfill"))
	var last time.Time
	var lastStatus string
	st, err := exportload.WaitExport(ctx, cl.Exports, arn, c.pollInterval, func(s exportload.ExportStatus) {
		if cfg.Quiet || s.Status == "COMPLETED" {
			return
		}
		now := time.Now()
		// A line when the state changes, and every progress interval.
		if string(s.Status) != lastStatus || pr.W != nil && now.Sub(last) >= pr.Interval {
			fmt.Fprintf(c.Stderr, "ddbsync backfill: export %s: %s after %s\n", arn, s.Status, now.Sub(began).Round(time.Second))
			last, lastStatus = now, string(s.Status)
		}
	})
	if err != nil {
		if interrupted(ctx, err) {
			return exportRef{}, fmt.Errorf("the export goes on; load it once completed with: %s: %w",
				exportCommandLine(withSource(cfg, arn)), err)
		}
		if errors.Is(err, exportload.ErrExportFailed) {
			return exportRef{}, &awsError{err: err}
		}
		return exportRef{}, err
	}
	if !cfg.Quiet {
		fmt.Fprintf(c.Stderr, "ddbsync backfill: export completed after %s: %d items, %d bytes billed, snapshot at %s, in s3://%s/%s\n",
			time.Since(began).Round(time.Second), st.ItemCount, st.BilledSizeBytes, st.ExportTime.UTC().Format(time.RFC3339), st.Bucket, st.Dir())
	}
	return exportRef{ARN: arn, Bucket: st.Bucket, Dir: st.Dir()}, nil
}

// withSource returns cfg loading the export src instead.
func withSource(cfg BackfillConfig, src string) BackfillConfig {
	cfg.FromExport, cfg.ExportTo = src, ""
	return cfg
}

// resolveExport finds the manifests of an existing export: an ARN is
// described (and waited for, if it is in progress); an s3:// URI is an
// export's folder, or a prefix with a single export under it.
func (c *BackfillCommand) resolveExport(ctx context.Context, cfg BackfillConfig, cl exportClients) (exportRef, error) {
	if strings.HasPrefix(cfg.FromExport, "arn:") {
		st, err := exportload.DescribeExport(ctx, cl.Exports, cfg.FromExport)
		if err != nil {
			return exportRef{}, err
		}
		switch st.Status {
		case "COMPLETED":
			return exportRef{ARN: st.ARN, Bucket: st.Bucket, Dir: st.Dir()}, nil
		case "FAILED":
			return exportRef{}, &awsError{err: fmt.Errorf("export %s: %w: %s", cfg.FromExport, exportload.ErrExportFailed, st.Failure)}
		}
		return c.waitExport(ctx, cfg, cl, cfg.FromExport)
	}
	bucket, key, _ := exportload.ParseS3URI(cfg.FromExport)
	key = strings.TrimSuffix(strings.TrimSuffix(key, exportload.SummaryName), "/")
	if path.Base(path.Dir(key)) == exportsFolder {
		return exportRef{Bucket: bucket, Dir: key}, nil
	}
	folder := path.Join(key, exportsFolder) + "/"
	if path.Base(key) == exportsFolder {
		folder = key + "/"
	}
	out, err := cl.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(strings.TrimPrefix(folder, "/")),
		Delimiter: aws.String("/"), MaxKeys: aws.Int32(maxExportsListed + 1)})
	if err != nil {
		return exportRef{}, fmt.Errorf("list exports in s3://%s/%s: %w", bucket, folder, err)
	}
	dirs := prefixes(out.CommonPrefixes)
	switch len(dirs) {
	case 1:
		return exportRef{Bucket: bucket, Dir: strings.TrimSuffix(dirs[0], "/")}, nil
	case 0:
		return exportRef{}, &awsError{err: fmt.Errorf("no export in s3://%s/%s: pass the export's folder (s3://BUCKET/PREFIX/AWSDynamoDB/EXPORT_ID) or its ARN", bucket, folder)}
	}
	var uris []string
	for _, d := range dirs[:min(len(dirs), maxExportsListed)] {
		uris = append(uris, "s3://"+bucket+"/"+strings.TrimSuffix(d, "/"))
	}
	return exportRef{}, &usageError{err: &FlagError{Flag: "from-export", Err: fmt.Errorf("s3://%s/%s holds several exports (%s...): name one", bucket, folder, strings.Join(uris, ", "))},
		hint: exportCommandLine(withSource(cfg, uris[0]))}
}

func prefixes(ps []types.CommonPrefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, aws.ToString(p.Prefix))
	}
	return out
}

// loadExport reads the export's manifests, checks the hand-over, asks (unless
// asked already, for a new export) and loads it.
func (c *exportRun) loadExport(ctx context.Context, ref exportRef, asked bool) error {
	cfg, cl, loc, plan, stack := c.cfg, c.cl, c.loc, c.plan, c.stack
	exp, err := exportload.ReadExport(ctx, cl.S3, ref.Bucket, ref.Dir)
	if err != nil {
		if exportload.IsVerifyError(err) {
			return fmt.Errorf("read export %s: %w", ref.URI(), err)
		}
		return &awsError{err: fmt.Errorf("read export %s: %w", ref.URI(), err)}
	}
	sum := exp.Summary
	if sum.TableARN != "" && tableOf(sum.TableARN) != tableOf(cfg.Table) {
		return refused(fmt.Sprintf("export %s is of table %s, not --table %s", sum.ExportARN, tableOf(sum.TableARN), cfg.Table), "ddbsync backfill --help")
	}
	// The same name in another account or region is another table: its
	// snapshot under this source's stream would leave foreign items behind.
	if sum.TableARN != "" && c.info.ARN != "" && !sameTableARN(sum.TableARN, c.info.ARN) {
		return refused(fmt.Sprintf("export %s is of table %s, not of --table %s (%s)", sum.ExportARN, sum.TableARN, cfg.Table, c.info.ARN), "ddbsync backfill --help")
	}
	split, _ := exportload.ParseSplit(cfg.Files)
	h := exportload.NewHandOver(sum.ExportTime, cfg.Overlap)
	now := time.Now()
	if err := h.Check(now, 0); err != nil {
		if !cfg.AllowOldExport || !now.Before(h.Deadline) {
			hint := exportCommandLine(withSource(cfg, exportNew))
			if cfg.AllowOldExport || now.Before(h.Deadline) {
				hint = exportCommandLine(cfg, "--allow-old-export")
			}
			return refused(err.Error(), hint)
		}
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("the export is %s old: replication must be enabled before %s, or changes after %s are lost to the copy",
			now.Sub(h.ExportTime).Round(time.Minute), h.Deadline.Format(time.RFC3339), h.ExportTime.Format(time.RFC3339)))
	}
	if cfg.Mapping != "" {
		if err := exportload.CheckMapping(ctx, cl.Mapping, cfg.Mapping, h); err != nil {
			if errors.Is(err, exportload.ErrMappingNotReady) {
				return refused(err.Error(), exportCommandLine(cfg))
			}
			return err
		}
	}
	files, items := 0, int64(0)
	for i, f := range exp.Files {
		if split.N <= 1 || i%split.N == split.I-1 {
			files++
			items += f.ItemCount
		}
	}
	plan.Account = loc.account()
	what := fmt.Sprintf("put the %d items of %d data files of export %s (s3://%s/%s, snapshot at %s) in %s%s; each file is checked against its manifest (MD5, item count) before any of its items is written",
		items, files, sum.ExportARN, exp.Bucket, ref.Dir, sum.ExportTime.UTC().Format(time.RFC3339), cfg.TargetTable, c.where(cfg))
	if asked {
		plan.Actions = nil
	}
	plan.Actions = append(plan.Actions, what)
	if cfg.Checkpoint != "" {
		if _, err := os.Stat(cfg.Checkpoint); err == nil {
			plan.Actions = append(plan.Actions, "resume from checkpoint "+cfg.Checkpoint+" (files done are skipped)")
		}
	}
	mapping := "not checked (pass --mapping UUID of the replicator's event source mapping)"
	if cfg.Mapping != "" {
		mapping = "event source mapping " + cfg.Mapping + " is disabled at TRIM_HORIZON"
	}
	plan.Actions = append(plan.Actions, fmt.Sprintf("hand-over: apply the stream from %s (export time minus %s) once the load is done, before %s; %s",
		h.StreamStart.Format(time.RFC3339), h.Overlap, h.Deadline.Format(time.RFC3339), mapping))
	switch {
	case cfg.DryRun:
		plan.Print(c.Stderr)
		fmt.Fprintf(c.Stdout, "backfill: dry run: would load %d items in %d files from %s into %s (manifests read, data files not; a --checkpoint is neither read nor written); nothing written\n",
			items, files, sum.ExportARN, cfg.TargetTable)
		return nil
	case asked:
		if !cfg.Quiet {
			plan.Print(c.Stderr)
		}
	default:
		if err := c.ask(plan, cfg); err != nil {
			return err
		}
	}
	if cfg.On == onStepFunctions {
		if err := c.runStepFunctions(ctx, cfg, cl, stack, exp); err != nil {
			return err
		}
		c.printHandOver(cfg, h)
		return nil
	}
	rep, err := c.loadLocal(ctx, exp, split)
	if err != nil {
		return err
	}
	filtered := ""
	if !c.rs.IsIdentity() {
		filtered = fmt.Sprintf(", %d filtered out by the rules", rep.Filtered)
	}
	fmt.Fprintf(c.Stdout, "backfill: %d items of %d files loaded from %s into %s (%d written by this run, %d files done before, %d retries%s)\n",
		rep.ItemsDone, rep.Files, rep.ExportARN, cfg.TargetTable, rep.ItemsWritten, rep.FilesSkipped, rep.Retries, filtered)
	c.printHandOver(cfg, h)
	return nil
}

// tableOf returns a table name from a name or an ARN.
func tableOf(s string) string {
	if i := strings.LastIndex(s, ":table/"); i >= 0 {
		s = s[i+len(":table/"):]
		s, _, _ = strings.Cut(s, "/")
	}
	return s
}

// sameTableARN reports whether two table ARNs
// (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME) name one table.
// DynamoDB Local puts the region "ddblocal" in its ARNs, whatever the
// client's region: that one matches any region.
func sameTableARN(a, b string) bool {
	pa, pb := strings.SplitN(a, ":", 6), strings.SplitN(b, ":", 6)
	if len(pa) != 6 || len(pb) != 6 {
		return a == b
	}
	if pa[3] == ddblocalRegion || pb[3] == ddblocalRegion {
		pa[3], pb[3] = "", ""
	}
	return strings.Join(pa, ":") == strings.Join(pb, ":")
}

// ddblocalRegion is the region DynamoDB Local writes in its ARNs.
const ddblocalRegion = "ddblocal"

// LoadFailedError is returned when data files failed (exit status 1).
type LoadFailedError struct {
	// Failed are the files' errors.
	Failed []*exportload.FileError
	// Files counts this loader's files.
	Files int
	// Rerun is the command that continues the load.
	Rerun string
}

// Error names each failed file and why.
func (e *LoadFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d data files failed, nothing of a refused file was written", len(e.Failed), e.Files)
	for _, f := range e.Failed {
		b.WriteString("; ")
		b.WriteString(f.Error())
	}
	fmt.Fprintf(&b, "; once the cause is fixed (a file refused for its content needs a new export), continue with: %s", e.Rerun)
	return b.String()
}

// loadLocal loads the export on this machine.
func (c *exportRun) loadLocal(ctx context.Context, exp *exportload.Export, split exportload.Split) (exportload.Report, error) {
	cfg := c.cfg
	loader := &exportload.FileLoader{
		S3:          c.cl.S3,
		Writer:      dynamo.NewTable(c.dst, cfg.TargetTable, dynamo.Options{Retry: retry.Policy{MaxAttempts: cfg.WriteAttempts}}),
		Keys:        c.dstInfo.Keys,
		Concurrency: exportload.DefaultConcurrency,
		Logger:      cfg.logger(c.Stderr),
	}
	if !c.rs.IsIdentity() {
		loader.Keys, loader.Rules = c.info.Keys, c.rs // the exported items are keyed as the source
	}
	meter := newLoadMeter(c.Stderr, cfg.progress(c.Stderr, "backfill"), doneBefore(cfg.Checkpoint, exp, split))
	rep, err := exportload.Load(ctx, exportload.Config{
		Export: exp, Loader: loader, TargetTable: cfg.TargetTable, Workers: cfg.Workers, Split: split,
		CheckpointPath: cfg.Checkpoint, Overlap: cfg.Overlap, AllowOldExport: cfg.AllowOldExport,
		Progress: meter.report, Logger: cfg.logger(c.Stderr),
	})
	meter.finish()
	for i, f := range rep.FailedItems {
		if i == maxPrintedFailures {
			fmt.Fprintf(c.Stderr, "ddbsync backfill: ... and %d more items not loaded\n", rep.ItemsFailed-int64(i))
			break
		}
		fmt.Fprintf(c.Stderr, "ddbsync backfill: item not loaded: %s\n", f)
	}
	rerun := exportCommandLine(cfg)
	switch {
	case err == nil:
		return rep, nil
	case interrupted(ctx, err):
		msg := fmt.Sprintf("after %d of %d items (%d files of %d done)", rep.ItemsDone, rep.Items, rep.FilesDone, rep.Files)
		if cfg.Checkpoint != "" {
			return rep, fmt.Errorf("%s, not finished; run the same command again to resume from %s: %w", msg, cfg.Checkpoint, err)
		}
		return rep, fmt.Errorf("%s, not finished (without --checkpoint a rerun loads every file again): %w", msg, err)
	case len(rep.Failed) > 0:
		return rep, &LoadFailedError{Failed: rep.Failed, Files: rep.Files, Rerun: rerun}
	case errors.Is(err, exportload.ErrExportTooOld):
		return rep, refused(err.Error(), exportCommandLine(withSource(cfg, exportNew)))
	case errors.Is(err, exportload.ErrCheckpointMismatch):
		return rep, refused(err.Error()+"; pass another --checkpoint", rerun)
	}
	return rep, fmt.Errorf("load export %s: %w", exp.Summary.ExportARN, err)
}

// printHandOver prints the next step: enabling replication from the
// hand-over position, before the deadline.
func (c *BackfillCommand) printHandOver(cfg BackfillConfig, h exportload.HandOver) {
	args := []string{"ddbsync", "run"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, shellQuote(v))
		}
	}
	add("--profile", cfg.Profile)
	add("--endpoint-url", cfg.Endpoint)
	add("--region", cfg.Region)
	add("--target-region", cfg.TargetRegion)
	add("--table", cfg.Table)
	add("--target-table", cfg.TargetTable)
	args = append(args, "--start", "at-timestamp", "--start-timestamp", h.StreamStart.Format(time.RFC3339))
	fmt.Fprintf(c.Stdout, "hand-over: export time %s; apply the stream from %s before %s (after that, changes since the export have left the stream)\n",
		h.ExportTime.Format(time.RFC3339), h.StreamStart.Format(time.RFC3339), h.Deadline.Format(time.RFC3339))
	if cfg.Files != "" {
		fmt.Fprintf(c.Stdout, "next: once every share of --files is loaded, start replication:\n")
	} else {
		fmt.Fprintf(c.Stdout, "next: start replication:\n")
	}
	uuid := cfg.Mapping
	if uuid == "" {
		uuid = "UUID"
	}
	awsArgs := []string{"aws", "lambda", "update-event-source-mapping", "--uuid", shellQuote(uuid), "--enabled"}
	if cfg.Profile != "" {
		awsArgs = append(awsArgs, "--profile", shellQuote(cfg.Profile))
	}
	if cfg.Region != "" {
		awsArgs = append(awsArgs, "--region", shellQuote(cfg.Region))
	}
	fmt.Fprintf(c.Stdout, "  on AWS (the replicator's mapping, created disabled at TRIM_HORIZON): %s\n", strings.Join(awsArgs, " "))
	fmt.Fprintf(c.Stdout, "  locally: %s\n", strings.Join(args, " "))
	fmt.Fprintf(c.Stdout, "then, once it has caught up: %s\n", withProfile(suggest("verify", cfg.tableFlags, cfg.Table, cfg.TargetTable), cfg.Profile))
}

// loadMeter prints the load's progress line.
type loadMeter struct {
	w     io.Writer
	cfg   tablesync.Progress
	began time.Time

	base int64 // items done before this run

	mu      sync.Mutex
	last    time.Time
	printed bool
	latest  exportload.Report // for the final JSON event
}

func newLoadMeter(w io.Writer, cfg tablesync.Progress, base int64) *loadMeter {
	return &loadMeter{w: w, cfg: cfg, began: time.Now(), base: base}
}

// doneBefore returns the items of the split's files that the checkpoint
// says are written, for the rate; 0 when it cannot be read (Load says why).
func doneBefore(path string, exp *exportload.Export, split exportload.Split) int64 {
	if path == "" {
		return 0
	}
	cp, err := exportload.ReadCheckpoint(path)
	if err != nil || cp == nil {
		return 0
	}
	var n int64
	for i, f := range exp.Files {
		if split.N > 1 && i%split.N != split.I-1 {
			continue
		}
		if st := cp.Files[f.DataFileS3Key]; st.Done {
			n += f.ItemCount
		} else {
			n += st.LinesDone
		}
	}
	return n
}

// report is Load's Progress callback: it prints at most every interval.
func (m *loadMeter) report(r exportload.Report) {
	if m.cfg.W == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.latest = r
	now := time.Now()
	if now.Sub(m.last) < m.cfg.Interval {
		return
	}
	m.last = now
	if m.cfg.JSON {
		m.writeEvent(r, now, false)
		return
	}
	rate := float64(r.ItemsDone-m.base) / max(now.Sub(m.began).Seconds(), 1e-9)
	eta := "-"
	if rate > 0 && r.Items > r.ItemsDone {
		eta = time.Duration(float64(r.Items-r.ItemsDone) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if r.Items > 0 {
		pct = 100 * float64(r.ItemsDone) / float64(r.Items)
	}
	line := fmt.Sprintf("ddbsync backfill: %d/%d files, %d/%d items (%.0f%%), %.0f items/s, ETA %s, %d failed",
		r.FilesDone, r.Files, r.ItemsDone, r.Items, pct, rate, eta, len(r.Failed))
	if m.cfg.Redraw {
		fmt.Fprint(m.w, "\r\033[K"+line)
		m.printed = true
		return
	}
	fmt.Fprintln(m.w, line)
}

// writeEvent writes the JSON progress event of r (docs/progress.md), the
// phase "load export".
func (m *loadMeter) writeEvent(r exportload.Report, now time.Time, final bool) {
	ev := tablesync.NewEvent(m.cfg.Command, "load export", m.base, r.ItemsDone-m.base, r.Items, now.Sub(m.began), final)
	b, _ := json.Marshal(ev)
	fmt.Fprintf(m.w, "%s\n", b)
}

// finish ends a redrawn line, or writes the final JSON event.
func (m *loadMeter) finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.JSON && m.cfg.W != nil {
		m.writeEvent(m.latest, time.Now(), true)
	}
	if m.printed {
		fmt.Fprintln(m.w)
	}
}

// textProgress returns p for the text progress lines of waiting for an
// export, or none with --output json or jsonl (the wait writes no JSON
// events; the load does).
func textProgress(p tablesync.Progress) tablesync.Progress {
	if p.JSON {
		return tablesync.Progress{}
	}
	return p
}
