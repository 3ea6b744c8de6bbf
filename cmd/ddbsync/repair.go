package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// RepairCommand is `ddbsync repair`: make the target equal to the source,
// for every difference verify finds or for the keys of a verify report.
type RepairCommand struct {
	Stdout, Stderr io.Writer
	// Stdin is read by --from - (default os.Stdin).
	Stdin io.Reader

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
}

// RepairConfig is the configuration of `ddbsync repair`, from its flags.
type RepairConfig struct {
	VerifyConfig
	From   string
	DryRun bool
}

func (c *RepairConfig) flags(fs *flag.FlagSet) {
	c.tableFlags.bind(fs)
	c.scanFlags.bind(fs)
	fs.Float64Var(&c.MaxRCU, "max-rcu", 0, "most read capacity units a second to consume on each table while verifying; 0: no limit")
	fs.Float64Var(&c.MaxWCU, "max-wcu", 0, "most write capacity units a second to consume on the target; 0: no limit")
	fs.IntVar(&c.Rechecks, "rechecks", tablesync.DefaultRechecks, "consistent re-reads that must confirm a difference (as verify)")
	fs.DurationVar(&c.RecheckDelay, "recheck-delay", tablesync.DefaultRecheckDelay, "wait before each re-read after the first; 0: none (as verify)")
	fs.StringVar(&c.Output, "output", outputText, "`FORMAT` of the differences on stdout, as verify: text (counts only) or jsonl")
	fs.BoolVar(&c.ShowValues, "show-values", false, "with --output jsonl, add both items' values to each line")
	fs.StringVar(&c.From, "from", "", "repair only the keys of this `FILE` of JSON lines written by verify --output jsonl\n(- for stdin), instead of scanning both tables; --concurrency keys at once")
	fs.BoolVar(&c.DryRun, "dry-run", false, "read and compare, but write nothing: report what would be put or deleted")
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c RepairConfig) Validate() error {
	return c.VerifyConfig.Validate()
}

func repairUsage(fs *flag.FlagSet) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprint(w, `Usage: ddbsync repair --table SOURCE --target-table TARGET [--from FILE] [flags]

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

Exit status: 0 when every difference was repaired, 1 otherwise (or in a dry
run that found differences), 2 for a wrong command line.

Examples:
  ddbsync repair --table orders --target-table orders-copy --dry-run
  ddbsync verify --table orders --target-table orders-copy --output jsonl > diffs.jsonl
  ddbsync repair --table orders --target-table orders-copy --from diffs.jsonl

Flags:
`)
		printFlags(w, fs)
	}
}

// Run parses args and repairs.
func (c *RepairCommand) Run(ctx context.Context, args []string) error {
	cfg := RepairConfig{}
	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	cfg.flags(fs)
	if err := parseFlags(fs, args, c.Stdout, repairUsage(fs)); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync repair --help"}
	}
	cfg.Repair = true
	if cfg.From == "" {
		return verifyTables(ctx, c.awsConfig, cfg.VerifyConfig, cfg.DryRun, c.Stdout, c.Stderr)
	}
	return c.repairFrom(ctx, cfg)
}

// repairFrom repairs the keys listed in cfg.From.
func (c *RepairCommand) repairFrom(ctx context.Context, cfg RepairConfig) error {
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
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region)
	if err != nil {
		return err
	}
	rep := tablesync.NewRepairer(newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.Table,
		newDynamoDB(awsCfg, cfg.Endpoint, cfg.targetRegion()), cfg.TargetTable,
		tablesync.RepairOptions{DryRun: cfg.DryRun, MaxWCU: cfg.MaxWCU, Logger: cfg.logger(c.Stderr)})

	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keys := make(chan tablesync.Item)
	var readErr error
	go func() {
		defer close(keys)
		readErr = tablesync.ReadDifferences(in, func(d tablesync.Difference) error {
			select {
			case keys <- d.Key:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		if readErr != nil {
			cancel(readErr)
		}
	}()
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
	runErr := rep.RepairAll(ctx, keys, cfg.Concurrency, report)
	if readErr != nil {
		return readErr
	}
	if runErr != nil {
		return runErr
	}
	s := rep.Stats()
	fmt.Fprintf(c.Stdout, "repair: %d keys from %s in %s\n", s.Puts+s.Deletes+s.Unchanged+s.Failed, cfg.From, time.Since(start).Round(time.Millisecond))
	// In a dry run, the planned writes are what is left to repair.
	return repairSummary(c.Stdout, s, cfg.DryRun, tablesync.VerifyResult{Different: s.Puts + s.Deletes})
}
