package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/demo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Demo settings.
const (
	demoSource      = "demo-orders"
	demoTarget      = "demo-orders-copy"
	demoAccessKeyID = "ddbsyncdemo" // DynamoDB Local keeps a database per key id
	demoIdle        = time.Second   // no record for this long after the writes: caught up
	demoCatchUp     = 2 * time.Minute
	demoWriters     = 8
)

// DemoCommand is `ddbsync demo` (hidden; what `make demo` runs): it starts
// DynamoDB Local, creates a source table with a stream and a target table,
// runs `ddbsync run` in process, writes a realistic workload to the source,
// waits until replication has caught up, compares the tables and shuts
// everything down. It fails if the tables differ.
type DemoCommand struct {
	Stdout, Stderr io.Writer
}

// demoSnapshot is the state of the demo at one moment.
type demoSnapshot struct {
	cmp   tablesync.Comparison
	stats streampoll.Stats
}

// Run runs the demo.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns the hidden `ddbsync demo`.
func (c *DemoCommand) command(*globalFlags) *cobra.Command {
	var ops, keys int
	var seed uint64
	cmd := &cobra.Command{
		Use:    "demo",
		Short:  "replicate a random workload on DynamoDB Local (make demo)",
		Hidden: true,
		Args:   noArgs,
		Annotations: map[string]string{annotationHelp: "Usage: ddbsync demo [flags]\n\n" +
			"Runs DynamoDB Local, replicates a random workload with ddbsync run and compares the tables.\n\n" +
			exitStatusHelp("the tables differ after replication")},
		RunE: func(cmd *cobra.Command, _ []string) error { return c.run(cmd.Context(), ops, keys, seed) },
	}
	cmd.Flags().IntVar(&ops, "ops", 1000, "number of writes to the source table")
	cmd.Flags().IntVar(&keys, "keys", 100, "number of distinct item keys (a small keyspace repeats keys within batches)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random workload")
	return cmd
}

func (c *DemoCommand) run(ctx context.Context, opsN, keysN int, seedN uint64) error {
	ops, keys, seed := &opsN, &keysN, &seedN
	if *ops < 1 || *keys < 1 {
		return &usageError{err: errors.New("--ops and --keys must be positive"), hint: "ddbsync demo --help"}
	}

	stderr := syncWriter(c.Stderr) // shared with the progress lines of ddbsync run
	fmt.Fprintf(stderr, "ddbsync demo: starting DynamoDB Local %s (installed into .local-aws/ on first use)\n", ddblocal.Version)
	srv, err := ddblocal.Start(ctx, ddblocal.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	db := srv.DynamoDB(demoAccessKeyID)
	if _, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{
		Name: demoSource, HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN,
		StreamViewType: types.StreamViewTypeNewAndOldImages,
	}); err != nil {
		return err
	}
	if _, err := ddblocal.CreateTable(ctx, db, ddblocal.TableSpec{
		Name: demoTarget, HashKey: demo.PartitionKey, RangeKey: demo.SortKey, RangeType: types.ScalarAttributeTypeN,
	}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ddbsync demo: DynamoDB Local at %s; created %s (stream NEW_AND_OLD_IMAGES) and %s\n", srv.Endpoint, demoSource, demoTarget)

	tmp, err := os.MkdirTemp("", "ddbsync-demo-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	started := make(chan *streampoll.Poller, 1)
	run := &RunCommand{
		Stdout:       stderr, // its final position, with its progress
		Stderr:       stderr,
		awsConfig:    func(context.Context, string) (aws.Config, error) { return srv.AWSConfig(demoAccessKeyID), nil },
		started:      func(p *streampoll.Poller) { started <- p },
		noResumeHint: true,
	}
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	runErr := make(chan error, 1)
	go func() {
		runErr <- run.Run(runCtx, []string{
			"--endpoint-url", srv.Endpoint, "--table", demoSource, "--target-table", demoTarget,
			"--progress-interval", "1s", "--failure-file", filepath.Join(tmp, "failures.jsonl"),
		})
	}()
	var p *streampoll.Poller
	select {
	case p = <-started:
	case err := <-runErr:
		return fmt.Errorf("ddbsync run: %w", err)
	}

	fmt.Fprintf(stderr, "ddbsync demo: writing %d changes to %s over %d keys (seed %d)\n", *ops, demoSource, *keys, *seed)
	began := time.Now()
	counts, err := demo.Workload{Table: demoSource, Keys: *keys, Seed: *seed, Concurrency: demoWriters}.Run(ctx, db, *ops)
	if err != nil {
		return err
	}
	wrote := time.Now()
	fmt.Fprintf(stderr, "ddbsync demo: wrote %d changes in %s: %s\n", counts.Total(), wrote.Sub(began).Round(time.Millisecond), counts)
	before, err := snapshot(ctx, db, p)
	if err != nil {
		return err
	}

	waitCtx, cancel := context.WithTimeout(ctx, demoCatchUp)
	defer cancel()
	if err := p.WaitIdle(waitCtx, demoIdle); err != nil {
		return err
	}
	after, err := snapshot(ctx, db, p)
	if err != nil {
		return err
	}
	stopRun(errStopped) // the end of the in-process `ddbsync run`, not an interruption
	if err := <-runErr; err != nil {
		return fmt.Errorf("ddbsync run: %w", err)
	}
	c.summary(before, after, after.stats.LastProcessed.Sub(wrote))
	if err := srv.Close(); err != nil {
		return err
	}
	if !after.cmp.Identical() {
		return fmt.Errorf("%w: %s", ErrTablesDiffer, after.cmp)
	}
	fmt.Fprintln(c.Stdout, "\nThe copy is identical to the source. DynamoDB Local is stopped; nothing is left running.")
	return nil
}

// snapshot compares the tables and reads the poller's stats.
func snapshot(ctx context.Context, db *dynamodb.Client, p *streampoll.Poller) (demoSnapshot, error) {
	cmp, err := tablesync.Compare(ctx, db, demoSource, db, demoTarget, tablesync.CompareOptions{})
	if err != nil {
		return demoSnapshot{}, err
	}
	return demoSnapshot{cmp: cmp, stats: p.Stats()}, nil
}

// summary prints the before/after table on stdout.
func (c *DemoCommand) summary(before, after demoSnapshot, catchUp time.Duration) {
	identical := func(r tablesync.Comparison) string {
		if r.Identical() {
			return "yes"
		}
		return fmt.Sprintf("no (%d missing, %d extra, %d different)", r.Missing, r.Extra, r.Different)
	}
	lag := func(s streampoll.Stats) string {
		if s.LastProcessed.IsZero() {
			return "-"
		}
		return s.LastDelay.Round(time.Millisecond).String()
	}
	fmt.Fprintln(c.Stdout)
	tw := tabwriter.NewWriter(c.Stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "\twhen the writes ended\tcaught up (%s later)\n", max(catchUp, 0).Round(time.Millisecond))
	fmt.Fprintf(tw, "items in %s\t%d\t%d\n", demoSource, before.cmp.SourceItems, after.cmp.SourceItems)
	fmt.Fprintf(tw, "items in %s\t%d\t%d\n", demoTarget, before.cmp.TargetItems, after.cmp.TargetItems)
	fmt.Fprintf(tw, "stream records applied\t%d\t%d\n", before.stats.Records, after.stats.Records)
	fmt.Fprintf(tw, "lag (read to applied)\t%s\t%s\n", lag(before.stats), lag(after.stats))
	fmt.Fprintf(tw, "identical\t%s\t%s\n", identical(before.cmp), identical(after.cmp))
	_ = tw.Flush()
}
