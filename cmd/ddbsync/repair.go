package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// RepairCommand is `ddbsync repair`: make the target equal to the source,
// for every difference verify finds or for the keys of a verify report.
type RepairCommand struct {
	Stdout, Stderr io.Writer
	// Stdin is read by --from - and answers "Proceed?" (default os.Stdin).
	Stdin io.Reader

	// stdinTerminal replaces the terminal check of Stdin (tests).
	stdinTerminal func() bool

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
}

// RepairConfig is the configuration of `ddbsync repair`, from its flags.
type RepairConfig struct {
	VerifyConfig
	From string
}

func (c *RepairConfig) flags(fs *pflag.FlagSet) {
	c.Output = outputText // the global --output sets it
	c.tableFlags.bind(fs)
	c.scanFlags.bind(fs)
	fs.Float64Var(&c.MaxRCU, "max-rcu", 0, "most read capacity units a second to consume on each table while verifying; 0: no limit")
	fs.Float64Var(&c.MaxWCU, "max-wcu", 0, "most write capacity units a second to consume on the target; 0: no limit")
	fs.IntVar(&c.Rechecks, "rechecks", tablesync.DefaultRechecks, "consistent re-reads that must confirm a difference (as verify)")
	fs.DurationVar(&c.RecheckDelay, "recheck-delay", tablesync.DefaultRecheckDelay, "wait before each re-read after the first; 0: none (as verify)")
	fs.BoolVar(&c.ShowValues, "show-values", false, "with --output jsonl, add both items' values to each line")
	fs.StringVar(&c.From, "from", "", "repair only the keys of this `FILE` of JSON lines written by verify --output jsonl\n(- for stdin), instead of scanning both tables; --concurrency keys at once")
	c.writeFlags.bind(fs, "read and compare, print the plan, but write nothing: report what would be put or deleted")
	c.writeFlags.bindRepair(fs)
	c.rulesFlag.bind(fs)
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c RepairConfig) Validate() error {
	return c.VerifyConfig.Validate()
}

var repairHelp = `Usage: ddbsync repair --table SOURCE --target-table TARGET [--from FILE] [flags]

Makes the target equal to the source, the source of truth: for every
difference that verify finds (this is verify --repair), or with --from for
the keys of a verify report. For each key it reads the target item, then
the source item, both with ConsistentRead, and if they differ puts the
source item in the target (or deletes the target item when the source has
none) on the condition that the target item is still exactly as it was read.
Then it reads both again, until they are equal.

Safe while replication is live: a repair never replaces a target value
other than the one it read, and that value was read before the source's,
so a repair cannot overwrite a newer replicated value with an older one. A
failed condition (the replicator wrote meanwhile) starts the key over;
throttling is retried with backoff and never dropped. A key counts as
repaired once a later read finds both tables equal; changes after that
travel through the stream.

With --rules FILE each target key is repaired from what the rule set makes
of the source item that maps to it (its source key read back from the
target item, or the line's "source_key"), under the same condition.

` + guardRailsHelp + massChangeHelp + `With --from, the counts are the report's kinds and the share is of the
target's approximate item count (DescribeTable); --from - reads the report
from stdin, so it needs --yes.

` + exitStatusHelp("a difference is left (or a dry run found differences), or the plan was\n       declined") + `
Examples:
  ddbsync repair --table orders --target-table orders-copy --dry-run
  ddbsync verify --table orders --target-table orders-copy --output jsonl > diffs.jsonl
  ddbsync repair --table orders --target-table orders-copy --from diffs.jsonl --yes
`

// Run parses args and repairs.
func (c *RepairCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync repair` bound to the global flags g.
func (c *RepairCommand) command(g *globalFlags) *cobra.Command {
	cfg := RepairConfig{}
	cmd := &cobra.Command{
		Use:         "repair",
		Short:       "make the target equal to the source, safely while replication runs",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: repairHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.global(g)
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

// run repairs with the parsed configuration.
func (c *RepairCommand) run(ctx context.Context, cfg RepairConfig) error {
	cfg.Repair = true
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync repair --help"}
	}
	ask := confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr}
	if cfg.From == "" {
		return tableVerifier{load: c.awsConfig, cmd: "repair", ask: ask, stdout: c.Stdout, stderr: c.Stderr}.run(ctx, cfg.VerifyConfig)
	}
	if cfg.From == "-" {
		// Stdin holds the differences: it cannot also answer.
		ask.Terminal = func() bool { return false }
	}
	return c.repairFrom(ctx, cfg, ask)
}

// repairFrom repairs the keys listed in cfg.From: it reads them all first
// (a malformed line stops it before any write), then plans, confirms and
// repairs.
func (c *RepairCommand) repairFrom(ctx context.Context, cfg RepairConfig, ask confirmer) error {
	in := c.Stdin
	if in == nil {
		in = os.Stdin
	}
	if cfg.From != "-" {
		f, err := os.Open(cfg.From)
		if err != nil {
			return fmt.Errorf("open differences: %w", err)
		}
		defer f.Close()
		in = f
	}
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	src, dst := newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.targetClient(awsCfg, 0, true)
	rs, err := cfg.rulesFlag.load()
	if err != nil {
		return err
	}
	srcInfo, dstInfo, err := describeTables(ctx, src, dst, cfg.tableFlags, cfg.writeFlags, loc, "repair", rs)
	if err != nil {
		return err
	}
	set := &diffSet{}
	defer set.close()
	if err := tablesync.ReadDifferences(in, set.add); err != nil {
		return fmt.Errorf("%w (nothing written)", err)
	}
	rep := tablesync.NewRepairer(src, cfg.Table, dst, cfg.TargetTable,
		tablesync.RepairOptions{DryRun: cfg.DryRun, MaxWCU: cfg.MaxWCU, Logger: cfg.logger(c.Stderr), Attrs: cfg.attrs(),
			Rules: rs, SourceKeys: srcInfo.Keys})
	var mu sync.Mutex
	report := func(key tablesync.Item, act tablesync.Action, err error) {
		if !cfg.DryRun || err != nil || act == tablesync.ActionNone {
			return
		}
		k, _ := attributevalue.MarshalMapJSON(key)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(c.Stdout, "would %s %s\n", act, k)
	}
	return repairJob{
		cmd: "repair", from: cfg.From, cfg: cfg.VerifyConfig, loc: loc, set: set, rep: rep, ask: ask,
		report: c.Stdout, stderr: c.Stderr, onKey: report,
		base: dstInfo.ItemCount, baseWhat: "items of target table " + cfg.TargetTable + " (DynamoDB's approximate count)",
		account: loc.account, rules: planLines(rs, srcInfo, dstInfo),
	}.run(ctx)
}

// repairJob is the second phase of a repair: the plan from the
// differences found, the guard rails and the confirmation, then the
// repairs.
type repairJob struct {
	cmd, from      string
	cfg            VerifyConfig
	loc            location
	set            *diffSet
	rep            *tablesync.Repairer
	ask            confirmer
	report, stderr io.Writer
	// onKey, if set, is told each key's outcome.
	onKey func(key tablesync.Item, act tablesync.Action, err error)
	// base is the target's item count that the mass-change share is of,
	// and baseWhat says what it counts.
	base     int64
	baseWhat string
	account  func() string
	// rules describes the rule set for the plan (none: nil).
	rules []string
}

func (j repairJob) run(ctx context.Context) error {
	total := j.set.total()
	if total == 0 {
		fmt.Fprintln(j.report, "repair: nothing to repair")
		return j.set.unrepairable()
	}
	extra := rulesArg(j.cfg.rulesFlag)
	if j.from != "" {
		extra = append(extra, "--from", shellQuote(j.from))
	}
	hint := func(more ...string) string {
		return suggest(j.cmd, j.cfg.tableFlags, j.cfg.Table, j.cfg.TargetTable, append(slices.Clone(extra), more...)...)
	}
	plan := Plan{
		Command: j.cmd, Source: j.cfg.Table, Target: j.cfg.TargetTable, Account: j.account(),
		Region: j.loc.Region, TargetRegion: j.loc.TargetRegion, Endpoint: j.loc.Endpoint,
		Actions: j.set.actions(j.cfg.TargetTable), Rules: j.rules,
	}
	guard := j.cfg.checkMassChange(j.set.extra+j.set.different, j.base, j.baseWhat, hint("--dry-run"))
	switch {
	case j.cfg.DryRun:
		plan.Actions = append(plan.Actions, "dry run: each key is re-read and compared, nothing is written")
		if guard != nil {
			plan.Warnings = append(plan.Warnings, "without --dry-run this repair would be "+guard.Error())
		}
		plan.Print(j.stderr)
	case guard != nil:
		plan.Print(j.stderr)
		return guard
	default:
		if err := j.ask.confirm(plan, j.cfg.Yes, hint("--yes")); err != nil {
			return err
		}
	}
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	diffs := make(chan tablesync.Difference)
	var sendErr error
	go func() {
		defer close(diffs)
		if sendErr = j.set.sendTo(ctx, diffs); sendErr != nil {
			cancel(sendErr)
		}
	}()
	var onDiff func(tablesync.Difference, tablesync.Action, error)
	if j.onKey != nil {
		onDiff = func(d tablesync.Difference, act tablesync.Action, err error) { j.onKey(d.Key, act, err) }
	}
	runErr := j.rep.RepairDifferences(ctx, diffs, j.cfg.Concurrency, onDiff)
	s := j.rep.Stats()
	done := s.Puts + s.Deletes + s.Unchanged + s.Failed
	printFailedKeys(j.report, j.rep, total-done)
	switch {
	case runErr != nil && interrupted(parent, runErr):
		// main reports it as "interrupted: ...".
		return fmt.Errorf("repair after %d of %d keys, not finished (%d puts, %d deletes so far): %w", done, total, s.Puts, s.Deletes, context.Cause(parent))
	case sendErr != nil:
		return fmt.Errorf("repair failed after %d of %d keys, not finished (%d puts, %d deletes so far): %w", done, total, s.Puts, s.Deletes, sendErr)
	case runErr != nil:
		return fmt.Errorf("repair failed after %d of %d keys, not finished: %w", done, total, runErr)
	}
	if j.from != "" {
		fmt.Fprintf(j.report, "repair: %d keys from %s in %s\n", done, j.from, time.Since(start).Round(time.Millisecond))
	}
	// In a dry run, the planned writes are what is left to repair.
	if err := repairSummary(j.report, s, j.cfg.DryRun, s.Puts+s.Deletes); err != nil {
		return err
	}
	return j.set.unrepairable()
}

// maxDiffsInMemory is how many difference keys a diffSet keeps in memory
// before it spills the rest to a temporary file.
const maxDiffsInMemory = 10000

// diffSet collects the keys of differences between the two phases of a
// repair: in memory up to a limit (default maxDiffsInMemory), then in a
// temporary file of JSON lines, so memory stays bounded. It is safe for
// concurrent add.
type diffSet struct {
	limit int // 0: maxDiffsInMemory

	mu                        sync.Mutex
	keys                      []tablesync.Item
	sources                   []tablesync.Item // the source key of keys[i], with rules (else nil)
	spill                     *os.File
	w                         *bufio.Writer
	missing, extra, different int64
	// collisions and ruleErrors are not repairable: the rule set must
	// change.
	collisions, ruleErrors int64
}

// add records d's kind and keys.
func (s *diffSet) add(d tablesync.Difference) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch d.Kind {
	case tablesync.Missing:
		s.missing++
	case tablesync.Extra:
		s.extra++
	case tablesync.Collision:
		s.collisions++
		return nil
	case tablesync.RuleFailed:
		s.ruleErrors++
		return nil
	default:
		s.different++
	}
	d = tablesync.Difference{Kind: d.Kind, Key: d.Key, SourceKey: d.SourceKey}
	limit := s.limit
	if limit == 0 {
		limit = maxDiffsInMemory
	}
	if len(s.keys) < limit {
		s.keys = append(s.keys, d.Key)
		s.sources = append(s.sources, d.SourceKey)
		return nil
	}
	if s.spill == nil {
		f, err := os.CreateTemp("", "ddbsync-diffs-*.jsonl")
		if err != nil {
			return fmt.Errorf("create differences file: %w", err)
		}
		s.spill, s.w = f, bufio.NewWriter(f)
	}
	line, err := tablesync.MarshalDifference(d, false)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write differences file: %w", err)
	}
	return nil
}

// total counts the differences to repair.
func (s *diffSet) total() int64 { return s.missing + s.extra + s.different }

// unrepairable returns an error if the set saw collisions or rule errors,
// which no repair fixes.
func (s *diffSet) unrepairable() error {
	if s.collisions == 0 && s.ruleErrors == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d target key collisions and %d rule errors are left: no repair fixes them, the rule set must change "+
		"(verify --output jsonl names their keys)", ErrTablesDiffer, s.collisions, s.ruleErrors)
}

// actions says, for a plan, what repairing the set writes to target.
func (s *diffSet) actions(target string) []string {
	return []string{
		fmt.Sprintf("put %d items missing from %s", s.missing, target),
		fmt.Sprintf("overwrite %d items of %s that differ, with the source's", s.different, target),
		fmt.Sprintf("delete %d items of %s that the source lacks", s.extra, target),
		"(each key is re-read from both tables first: keys already equal are left alone)",
	}
}

// send sends every key to keys, until ctx ends.
func (s *diffSet) send(ctx context.Context, keys chan<- tablesync.Item) error {
	return s.sendDiffs(func(d tablesync.Difference) error {
		select {
		case keys <- d.Key:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
}

// sendTo sends every difference (its key and source key) to diffs, until
// ctx ends.
func (s *diffSet) sendTo(ctx context.Context, diffs chan<- tablesync.Difference) error {
	return s.sendDiffs(func(d tablesync.Difference) error {
		select {
		case diffs <- d:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
}

// sendDiffs calls put with every difference, kind aside.
func (s *diffSet) sendDiffs(put func(tablesync.Difference) error) error {
	for i, key := range s.keys {
		if err := put(tablesync.Difference{Key: key, SourceKey: s.sources[i]}); err != nil {
			return err
		}
	}
	if s.spill == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write differences file: %w", err)
	}
	if _, err := s.spill.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read differences file: %w", err)
	}
	return tablesync.ReadDifferences(s.spill, put)
}

// close removes the temporary file, if any.
func (s *diffSet) close() error {
	if s.spill == nil {
		return nil
	}
	s.spill.Close()
	if err := os.Remove(s.spill.Name()); err != nil {
		return fmt.Errorf("remove differences file: %w", err)
	}
	return nil
}

// printFailedKeys names, keys only, each key the repair left different
// from the source, and says how many keys it never reached (left as they
// were).
func printFailedKeys(w io.Writer, rep *tablesync.Repairer, untouched int64) {
	keys := rep.FailedKeys()
	for _, key := range keys {
		fmt.Fprintf(w, "repair: not repaired %s\n", tablesync.KeyJSON(key))
	}
	if more := rep.Stats().Failed - int64(len(keys)); more > 0 {
		fmt.Fprintf(w, "repair: and %d more keys not repaired\n", more)
	}
	if untouched > 0 {
		fmt.Fprintf(w, "repair: %d keys not reached, left as they were\n", untouched)
	}
}
