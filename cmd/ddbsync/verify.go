package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// ErrTablesDiffer is returned by verify when differences remain.
var ErrTablesDiffer = errors.New("tables differ")

// VerifyCommand is `ddbsync verify`: compare the two tables, and with
// --repair fix what differs.
type VerifyCommand struct {
	Stdout, Stderr io.Writer
	// Stdin answers "Proceed?" for --repair (default os.Stdin).
	Stdin io.Reader

	// stdinTerminal replaces the terminal check of Stdin (tests).
	stdinTerminal func() bool

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
}

// VerifyConfig is the configuration of `ddbsync verify`, from its flags.
type VerifyConfig struct {
	tableFlags
	scanFlags
	writeFlags
	MaxRCU       float64
	Rechecks     int
	RecheckDelay time.Duration
	ShowValues   bool
	Repair       bool
	MaxWCU       float64
	rulesFlag
}

func (c *VerifyConfig) flags(fs *pflag.FlagSet) {
	c.Output = outputText // the global --output sets it
	c.tableFlags.bind(fs)
	c.scanFlags.bind(fs)
	fs.Float64Var(&c.MaxRCU, "max-rcu", 0, "most read capacity units a second to consume on each table; 0: no limit")
	fs.IntVar(&c.Rechecks, "rechecks", tablesync.DefaultRechecks, "strongly consistent re-reads of both tables that must confirm a difference before it\nis reported (replication in flight settles meanwhile)")
	fs.DurationVar(&c.RecheckDelay, "recheck-delay", tablesync.DefaultRecheckDelay, "wait before each re-read after the first; 0: none")
	fs.BoolVar(&c.ShowValues, "show-values", false, "with --output jsonl, add both items' values (\"source\", \"target\") to each line")
	fs.BoolVar(&c.Repair, "repair", false, "fix each difference from the source (see ddbsync repair --help); safe while the\nreplicator runs")
	fs.Float64Var(&c.MaxWCU, "max-wcu", 0, "with --repair, most write capacity units a second to consume on the target; 0: no limit")
	c.writeFlags.bind(fs, "with --repair: verify, print the plan with its counts and what each repair would do,\nbut write nothing")
	c.writeFlags.bindRepair(fs)
	c.rulesFlag.bind(fs)
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c VerifyConfig) Validate() error {
	errs := append(c.tableFlags.validate(), c.scanFlags.validate()...)
	errs = append(errs, c.writeFlags.validate()...)
	if err := sameTableError(c.tableFlags, c.writeFlags, c.Repair); err != nil {
		errs = append(errs, err)
	}
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FlagError{Flag: flag, Err: fmt.Errorf(format, args...)})
	}
	if c.DryRun && !c.Repair {
		bad("dry-run", "needs --repair (verify alone writes nothing)")
	}
	if c.MaxRCU < 0 {
		bad("max-rcu", "%g must not be negative", c.MaxRCU)
	}
	if c.MaxWCU < 0 {
		bad("max-wcu", "%g must not be negative", c.MaxWCU)
	}
	if c.Rechecks < 1 || c.Rechecks > 100 {
		bad("rechecks", "%d must be 1 to 100", c.Rechecks)
	}
	if c.RecheckDelay < 0 || c.RecheckDelay > time.Minute {
		bad("recheck-delay", "%s must be 0 to 1m", c.RecheckDelay)
	}
	if c.Output != outputText && c.Output != outputJSON && c.Output != outputJSONL {
		bad("output", "%q must be text, json or jsonl", c.Output)
	}
	if c.ShowValues && c.Output != outputJSONL {
		bad("show-values", "needs --output jsonl")
	}
	return errors.Join(errs...)
}

var verifyHelp = `Usage: ddbsync verify --table SOURCE --target-table TARGET [flags]

Compares the two tables without changing anything (unless --repair): scans
the source and looks each item up in the target (BatchGetItem, 100 keys a
call, UnprocessedKeys retried), then scans the target for items the source
lacks. Values compare by meaning: numbers as decimals (1E+2 equals 100),
sets as sets. Before an item is reported, both tables are re-read with
strongly consistent reads (--rechecks, --recheck-delay), so changes still
in flight through the replicator are not reported as drift.

The report gives the counts of missing (source only), extra (target only)
and different items; with --output json, one JSON object with them; with
--output jsonl, one line per difference (the counts go to stderr):
  {"kind":"different","key":{"pk":{"S":"a"}},"attributes":["price"]}
Values appear only with --show-values. ddbsync repair --from reads these
lines back.

With --repair each difference is fixed as ddbsync repair does: the source
item is re-read and put in the target, or the target item deleted if the
source has none, with a condition that the target item is still as read, so
a repair never overwrites a newer replicated value.

With --rules FILE the source is compared through the rule set the copy
is made with: a filtered, reshaped, re-keyed copy verifies clean. Each
line then also carries "source_key" and "target_key" ("key" is the target
key); "collision" (two source items, one target key) and "rule-error"
lines need a change of the rule set (docs/rules-commands.md).
With ttl_deletes: skip the copy of an item the source's TTL expired (its
TTL passed, its source item gone) is no difference: it is counted as an
expired copy kept.

` + guardRailsHelp + massChangeHelp + `
A verify that fails or is interrupted prints no counts that look final.

` + exitStatusHelp("the tables differ (with --repair: a difference is left), the check failed, or\n       the plan was declined") + `
Examples:
  ddbsync verify --table orders --target-table orders-copy
  ddbsync verify --table orders --target-table orders-copy --output jsonl > diffs.jsonl
  ddbsync verify --table orders --target-table orders-copy --repair --dry-run
  ddbsync verify --table orders --target-table orders-copy --repair --max-wcu 500 --yes
`

// Run parses args, compares the tables and, with --repair, fixes them.
func (c *VerifyCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync verify` bound to the global flags g.
func (c *VerifyCommand) command(g *globalFlags) *cobra.Command {
	cfg := VerifyConfig{}
	cmd := &cobra.Command{
		Use:         "verify",
		Short:       "compare the tables; --repair fixes what differs",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: verifyHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.global(g)
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

// run verifies with the parsed configuration.
func (c *VerifyCommand) run(ctx context.Context, cfg VerifyConfig) error {
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync verify --help"}
	}
	v := tableVerifier{load: c.awsConfig, cmd: "verify", ask: confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr},
		stdout: c.Stdout, stderr: c.Stderr}
	if cfg.Repair {
		v.cmd = "verify --repair"
	}
	return v.run(ctx, cfg)
}

// tableVerifier runs verify, and with --repair its two phases: verify
// collects the differences (keys only), then the plan is printed and
// confirmed, then the keys are repaired. No write happens before the
// whole plan is known.
type tableVerifier struct {
	load           func(context.Context, string) (aws.Config, error)
	cmd            string // for the plan and hints: "verify", "verify --repair" or "repair"
	ask            confirmer
	stdout, stderr io.Writer
}

func (v tableVerifier) run(ctx context.Context, cfg VerifyConfig) error {
	awsCfg, err := loadConfig(ctx, v.load, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	src := newReadClient(awsCfg, cfg.Endpoint, "", cfg.callsInFlight())
	dst := cfg.targetClient(awsCfg, cfg.callsInFlight(), true)
	guards := cfg.writeFlags
	guards.AllowTargetStream = guards.AllowTargetStream || !cfg.Repair // reading never hurts
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return err
	}
	srcInfo, dstInfo, err := describeTables(ctx, src, dst, cfg.tableFlags, guards, loc, v.cmd, rs)
	if err != nil {
		var uerr *usageError
		if errors.As(err, &uerr) {
			return err // a refusal
		}
		return notFinished(ctx, tablesync.VerifyResult{}, err)
	}
	ttlAttr, err := keptTTLAttribute(ctx, src, cfg.Table, rs)
	if err != nil {
		return notFinished(ctx, tablesync.VerifyResult{}, err)
	}
	report := v.stdout
	if cfg.Output != outputText {
		report = v.stderr
	}
	var mu sync.Mutex // serialises the JSON lines
	var onDiff func(context.Context, tablesync.Difference) error
	if cfg.Output == outputJSONL {
		onDiff = func(_ context.Context, d tablesync.Difference) error {
			line, err := tablesync.MarshalDifference(d, cfg.ShowValues)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			_, err = fmt.Fprintf(v.stdout, "%s\n", line)
			return err
		}
	}
	var set *diffSet
	if cfg.Repair {
		set = &diffSet{}
		defer set.close()
		next := onDiff
		onDiff = func(ctx context.Context, d tablesync.Difference) error {
			if next != nil {
				if err := next(ctx, d); err != nil {
					return err
				}
			}
			return set.add(d)
		}
	}
	delay := cfg.RecheckDelay
	if delay == 0 {
		delay = -1 // the library's "none"; its 0 means the default
	}
	res, err := tablesync.Verify(ctx, src, cfg.Table, dst, cfg.TargetTable, tablesync.VerifyOptions{
		Segments:     cfg.segments(),
		PageSize:     int32(cfg.PageSize),
		MaxRCU:       cfg.MaxRCU,
		Rechecks:     cfg.Rechecks,
		RecheckDelay: delay,
		OnDifference: onDiff,
		Progress:     cfg.progress(v.stderr, strings.Fields(v.cmd)[0]),
		Logger:       cfg.logger(v.stderr),
		Attrs:        cfg.attrs(),
		Rules:        rs,
		TTLAttribute: ttlAttr,
	})
	if err != nil {
		return notFinished(ctx, res, err)
	}
	if res.ExpectedKeys > 0 {
		fmt.Fprintf(v.stderr, "ddbsync %s: the rules do not carry the source key into the target: %d expected target keys were held in memory "+
			"(about 120 bytes plus the keys' sizes each); an item added to the source during the run may be reported extra\n", v.cmd, res.ExpectedKeys)
	}
	fmt.Fprintf(report, "verify: %s (source %s, target %s) in %s\n", res, cfg.Table, cfg.TargetTable, res.Elapsed.Round(time.Millisecond))
	if cfg.Output == outputJSON {
		if err := writeJSON(v.stdout, newVerifyReport(cfg, res)); err != nil {
			return err
		}
	}
	if set != nil {
		rep := tablesync.NewRepairer(src, cfg.Table, dst, cfg.TargetTable, tablesync.RepairOptions{
			DryRun: cfg.DryRun, MaxWCU: cfg.MaxWCU, Logger: cfg.logger(v.stderr), Attrs: cfg.attrs(),
			Rules: rs, SourceKeys: srcInfo.Keys,
		})
		return repairJob{
			cmd: v.cmd, cfg: cfg, loc: loc, set: set, rep: rep, ask: v.ask, report: report, stderr: v.stderr,
			base: res.TargetItems, baseWhat: "items scanned in target table " + cfg.TargetTable,
			account: loc.account, rules: planLines(rs, srcInfo, dstInfo),
		}.run(ctx)
	}
	if res.Collisions > 0 || res.RuleErrors > 0 {
		return fmt.Errorf("%w: %d missing, %d extra, %d different, %d target key collisions, %d rule errors; the collisions and rule errors need "+
			"a change of the rule set, the rest is fixed with: %s", ErrTablesDiffer, res.Missing, res.Extra, res.Different, res.Collisions, res.RuleErrors,
			suggest("verify --repair", cfg.tableFlags, cfg.Table, cfg.TargetTable, rulesArg(cfg.rulesFlag)...))
	}
	if !res.Identical() {
		return fmt.Errorf("%w: %d missing, %d extra, %d different; fix with: %s",
			ErrTablesDiffer, res.Missing, res.Extra, res.Different, suggest("verify --repair", cfg.tableFlags, cfg.Table, cfg.TargetTable, rulesArg(cfg.rulesFlag)...))
	}
	fmt.Fprintln(report, "verify: the tables are identical")
	return nil
}

// ttlDescriber is the part of *dynamodb.Client keptTTLAttribute calls.
type ttlDescriber interface {
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

// keptTTLAttribute returns the source table's TTL attribute when the
// rules keep the items its TTL expires (ttl_deletes: skip), so that
// verify counts their copies apart instead of reporting them extra; ""
// otherwise, or when the table has no TTL.
func keptTTLAttribute(ctx context.Context, api ttlDescriber, table string, rs *rules.RuleSet) (string, error) {
	if rs.IsIdentity() || rs.TTL != rules.TTLSkip {
		return "", nil
	}
	out, err := api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return "", fmt.Errorf("describe the TTL of %s: %w", table, err)
	}
	d := out.TimeToLiveDescription
	if d == nil || d.AttributeName == nil || d.TimeToLiveStatus == types.TimeToLiveStatusDisabled {
		return "", nil
	}
	return *d.AttributeName, nil
}

// notFinished is the error of a verify that ended before its result,
// worded so that its partial counts are not mistaken for one.
func notFinished(ctx context.Context, res tablesync.VerifyResult, err error) error {
	n := res.SourceItems + res.TargetItems
	if interrupted(ctx, err) {
		// main reports it as "interrupted: ...".
		return fmt.Errorf("after %d items, before a result (so far %d missing, %d extra and %d different; nothing repaired): %w",
			n, res.Missing, res.Extra, res.Different, err)
	}
	return fmt.Errorf("failed after %d items, no result: %w", n, err)
}

// repairSummary prints what the repairs did and returns an error if any
// difference is left.
func repairSummary(w io.Writer, s tablesync.RepairStats, dryRun bool, left int64) error {
	verb := "repaired"
	if dryRun {
		verb = "would repair (dry run)"
	}
	fmt.Fprintf(w, "repair: %s %d: %d puts, %d deletes; %d already equal; %d conflicts with live writes re-read; %d failed\n",
		verb, s.Puts+s.Deletes, s.Puts, s.Deletes, s.Unchanged, s.Conflicts, s.Failed)
	switch {
	case s.Failed > 0:
		return fmt.Errorf("%w: %d differences not repaired (the keys are named above); run again", ErrTablesDiffer, s.Failed)
	case dryRun && left > 0:
		return fmt.Errorf("%w: dry run, nothing written", ErrTablesDiffer)
	}
	return nil
}

// verifyReport is verify's result with --output json; the field order is
// the key order.
type verifyReport struct {
	Source      string `json:"source"`
	Target      string `json:"target"`
	SourceItems int64  `json:"source_items"`
	TargetItems int64  `json:"target_items"`
	Missing     int64  `json:"missing"`
	Extra       int64  `json:"extra"`
	Different   int64  `json:"different"`
	Identical   bool   `json:"identical"`
	ElapsedMS   int64  `json:"elapsed_ms"`
	// With --rules only.
	Filtered     *int64 `json:"filtered,omitempty"`
	Collisions   *int64 `json:"collisions,omitempty"`
	RuleErrors   *int64 `json:"rule_errors,omitempty"`
	ExpectedKeys *int64 `json:"expected_keys_in_memory,omitempty"`
	ExpiredKept  *int64 `json:"expired_kept,omitempty"`
}

func newVerifyReport(cfg VerifyConfig, res tablesync.VerifyResult) verifyReport {
	r := verifyReport{
		Source: cfg.Table, Target: cfg.TargetTable, SourceItems: res.SourceItems, TargetItems: res.TargetItems,
		Missing: res.Missing, Extra: res.Extra, Different: res.Different, Identical: res.Identical(), ElapsedMS: res.Elapsed.Milliseconds(),
	}
	if cfg.RulesFile != "" {
		r.Filtered, r.Collisions, r.RuleErrors, r.ExpectedKeys = &res.Filtered, &res.Collisions, &res.RuleErrors, &res.ExpectedKeys
		r.ExpiredKept = &res.ExpiredKept
	}
	return r
}
