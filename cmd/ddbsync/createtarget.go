package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablespec"
)

// How long create-target waits for the new table to be ACTIVE, and how
// often it asks.
const (
	createTargetWait     = 10 * time.Minute
	createTargetMinDelay = 2 * time.Second
	createTargetMaxDelay = 20 * time.Second
)

// pitrRetry retries UpdateContinuousBackups on the new table: DynamoDB
// refuses it with ContinuousBackupsUnavailableException ("Backups are
// being enabled for the table") until the table's continuous backups are
// on, which can be a while after the table is ACTIVE. About ten minutes
// in all, like the wait for ACTIVE.
var pitrRetry = retry.Policy{MaxAttempts: 35, BaseDelay: createTargetMinDelay, MaxDelay: createTargetMaxDelay, Jitter: retry.HalfJitter}

// createTargetAPI is what create-target calls; *dynamodb.Client has it.
type createTargetAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
	ListTagsOfResource(context.Context, *dynamodb.ListTagsOfResourceInput, ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error)
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	UpdateContinuousBackups(context.Context, *dynamodb.UpdateContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error)
}

var _ createTargetAPI = (*dynamodb.Client)(nil)

// CreateTargetCommand is `ddbsync create-target`: create the target
// table from the source's description, re-keyed by the rules.
type CreateTargetCommand struct {
	Stdout, Stderr io.Writer
	// Stdin answers "Proceed?" (default os.Stdin).
	Stdin io.Reader

	// stdinTerminal replaces the terminal check of Stdin (tests).
	stdinTerminal func() bool
	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
	// clients replaces the source and target clients (tests: a stand-in
	// for the calls DynamoDB Local lacks).
	clients func(cfg aws.Config, c CreateTargetConfig) (src, dst createTargetAPI)
	// pitrRetry replaces the package's pitrRetry (tests: short waits).
	pitrRetry *retry.Policy
}

// CreateTargetConfig is the configuration of `ddbsync create-target`.
type CreateTargetConfig struct {
	tableFlags
	rulesFlag
	writeFlags
	Stream   string
	KeyTypes []string
	KMSKeyID string
}

func (c *CreateTargetConfig) flags(fs *pflag.FlagSet) {
	c.bindTables(fs)
	c.rulesFlag.bind(fs)
	c.bindConfirm(fs, "print the plan, and the exact CreateTable request and the calls after it as JSON on\nstdout, but create nothing")
	fs.StringVar(&c.Stream, "stream", "", "`VIEW` of the target's stream: NEW_AND_OLD_IMAGES, NEW_IMAGE, KEYS_ONLY or OLD_IMAGE\n(default: no stream, whatever the source has)")
	fs.StringArrayVar(&c.KeyTypes, "key-type", nil, "`NAME=S|N|B`: the type of a target key attribute the rules do not tell (a key rule\nsuch as pk: item.id); repeat for each")
	fs.StringVar(&c.KMSKeyID, "kms-key-id", "", "encrypt the target with this KMS `KEY` (ID, ARN or alias; default: the AWS owned\nkey, or the AWS managed key aws/dynamodb when the source uses KMS)")
}

// Validate checks the configuration and returns every problem.
func (c CreateTargetConfig) Validate() error {
	var errs []error
	if c.Table == "" {
		errs = append(errs, &FlagError{Flag: "table", Err: errors.New("is required: the source table")})
	}
	if c.TargetTable == "" {
		errs = append(errs, &FlagError{Flag: "target-table", Err: errors.New("is required: the table to create")})
	}
	if c.sameTable() {
		errs = append(errs, &FlagError{Flag: "target-table", Err: errors.New("must differ from --table (or be in another --target-region): it names the table to create")})
	}
	errs = append(errs, c.roleFlags.validate()...)
	if c.Stream != "" && !validView(c.Stream) {
		errs = append(errs, &FlagError{Flag: "stream", Err: fmt.Errorf("%q must be NEW_AND_OLD_IMAGES, NEW_IMAGE, KEYS_ONLY or OLD_IMAGE", c.Stream)})
	}
	if _, err := c.keyTypes(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validView(v string) bool {
	for _, s := range types.StreamViewType("").Values() {
		if v == string(s) {
			return true
		}
	}
	return false
}

// keyTypes parses --key-type.
func (c CreateTargetConfig) keyTypes() (map[string]types.ScalarAttributeType, error) {
	out := map[string]types.ScalarAttributeType{}
	for _, kt := range c.KeyTypes {
		name, typ, ok := strings.Cut(kt, "=")
		switch t := types.ScalarAttributeType(strings.ToUpper(typ)); {
		case !ok || name == "":
			return nil, &FlagError{Flag: "key-type", Err: fmt.Errorf("%q is not NAME=S|N|B", kt)}
		case t != types.ScalarAttributeTypeS && t != types.ScalarAttributeTypeN && t != types.ScalarAttributeTypeB:
			return nil, &FlagError{Flag: "key-type", Err: fmt.Errorf("%q: the type must be S, N or B", kt)}
		default:
			out[name] = t
		}
	}
	return out, nil
}

var createTargetHelp = `Usage: ddbsync create-target --table SOURCE --target-table TARGET [--rules FILE] [--stream VIEW] [flags]

Creates the target table from the source table's description
(DescribeTable, DescribeTimeToLive, DescribeContinuousBackups,
ListTagsOfResource): its key schema, re-keyed and renamed by --rules (a key
rule's first attribute is the partition key, its second the sort key; a
key rule's type is its CEL expression's: string S, bytes B, numbers N, or
that of the source key attribute it reads as it is; --key-type NAME=S|N|B
when the rules do not tell), the billing mode and
capacities, the global and local secondary indexes with their attributes
renamed (an index whose key attribute the rules drop or change, or a local
index whose partition key is no longer the table's, is left out with a
warning naming it), the TTL attribute, point-in-time recovery, the tags,
the table class and deletion protection. The target has no stream unless
--stream. A customer-managed KMS key is not copied (it may be in another
account): the target gets the AWS managed key unless --kms-key-id.

It prints the plan on stderr first (account, tables, region, key, indexes,
billing, TTL, stream, point-in-time recovery, tags); then --yes proceeds, a
terminal is asked "Proceed? [y/N]", anything else is refused (exit 2).
--dry-run prints the exact CreateTable request and the calls after it as
JSON on stdout, and creates nothing. A target that exists is refused (exit
2, nothing changed), and so is a target that is the source. After
CreateTable it waits until the table is ACTIVE, then enables TTL
(UpdateTimeToLive) and point-in-time recovery (UpdateContinuousBackups).

DynamoDB Local has no point-in-time recovery and no tag listing: there, the
plan says they are unknown and they are not copied.

` + exitStatusHelp("the plan was declined, or a call after CreateTable failed (the table\n       exists; the error says what to enable by hand)") + `
Examples:
  ddbsync create-target --table orders --target-table orders-copy --dry-run
  ddbsync create-target --table orders --target-table orders-by-tenant --rules rules.yaml \
      --stream NEW_AND_OLD_IMAGES --yes
  ddbsync create-target --table orders --target-table orders --target-region eu-west-1 \
      --target-role-arn arn:aws:iam::210987654321:role/ddbsync-target
`

// Run parses args and creates the target table.
func (c *CreateTargetCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

func (c *CreateTargetCommand) command(g *globalFlags) *cobra.Command {
	cfg := CreateTargetConfig{}
	cmd := &cobra.Command{
		Use:         "create-target",
		Short:       "create the target table from the source's description, re-keyed by the rules",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: createTargetHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.global(g)
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

func (c *CreateTargetCommand) run(ctx context.Context, cfg CreateTargetConfig) error {
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync create-target --help"}
	}
	rs, err := cfg.load()
	if err != nil {
		return err
	}
	keyTypes, _ := cfg.keyTypes()
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region, cfg.Profile)
	if err != nil {
		return err
	}
	loc := locate(ctx, awsCfg, cfg.tableFlags)
	var src, dst createTargetAPI
	if c.clients != nil {
		src, dst = c.clients(awsCfg, cfg)
	} else {
		src, dst = newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.targetClient(awsCfg, 0, true)
	}
	source, notes, err := describeSource(ctx, src, cfg.Table, loc)
	if err != nil {
		return err
	}
	_, err = dst.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.TargetTable)})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		return c.exists(cfg, loc)
	case !errors.As(err, &notFound):
		return fmt.Errorf("check %s: %w", loc.where(cfg.TargetTable, true), err)
	}
	spec, err := tablespec.Derive(source, tablespec.Options{TargetTable: cfg.TargetTable, Rules: rs, KeyTypes: keyTypes,
		Stream: types.StreamViewType(cfg.Stream), KMSKeyID: cfg.KMSKeyID})
	switch {
	case errors.Is(err, rules.ErrKeyLost):
		return &usageError{err: err, hint: "ddbsync rules check " + shellQuote(cfg.RulesFile)}
	case errors.Is(err, rules.ErrKeyType):
		return &usageError{err: err, hint: createTargetLine(cfg, "--key-type NAME=S")}
	case err != nil:
		return err
	}
	if err := checkKeyTypes(keyTypes, spec.Create.KeySchema); err != nil {
		return &usageError{err: err, hint: "ddbsync create-target --help"}
	}
	plan := Plan{Command: "create-target", Source: cfg.Table, Target: cfg.TargetTable, Account: loc.account(),
		Region: loc.Region, TargetRegion: loc.TargetRegion, Endpoint: loc.Endpoint, TargetRole: cfg.TargetRoleARN,
		Actions: describeSpec(spec), Warnings: append(notes, spec.Warnings...)}
	if cfg.DryRun {
		plan.Print(c.Stderr)
		return writeRequests(c.Stdout, spec)
	}
	ask := confirmer{In: c.Stdin, Terminal: c.stdinTerminal, Out: c.Stderr}
	if err := ask.confirm(plan, cfg.Yes, createTargetLine(cfg, "--yes")); err != nil {
		return err
	}
	var inUse *types.ResourceInUseException
	if _, err := dst.CreateTable(ctx, spec.Create); errors.As(err, &inUse) {
		return c.exists(cfg, loc)
	} else if err != nil {
		return fmt.Errorf("create %s: %w", loc.where(cfg.TargetTable, true), err)
	}
	if !cfg.Quiet {
		fmt.Fprintf(c.Stderr, "ddbsync create-target: created %s; waiting until it is ACTIVE\n", cfg.TargetTable)
	}
	waiter := dynamodb.NewTableExistsWaiter(dst, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = createTargetMinDelay, createTargetMaxDelay
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.TargetTable)}, createTargetWait); err != nil {
		return fmt.Errorf("table %s was created but is not ACTIVE yet (TTL and point-in-time recovery not enabled): %w", cfg.TargetTable, err)
	}
	if spec.TTL != nil {
		if _, err := dst.UpdateTimeToLive(ctx, spec.TTL); err != nil {
			return fmt.Errorf("table %s was created, but enabling TTL failed (enable it with: %s): %w", cfg.TargetTable,
				awsCLI(cfg, "update-time-to-live", "--time-to-live-specification", "Enabled=true,AttributeName="+aws.ToString(spec.TTL.TimeToLiveSpecification.AttributeName)), err)
		}
	}
	if spec.PITR != nil {
		policy := pitrRetry
		if c.pitrRetry != nil {
			policy = *c.pitrRetry
		}
		err := policy.Do(ctx, func(int) (bool, error) {
			_, err := dst.UpdateContinuousBackups(ctx, spec.PITR)
			var unavailable *types.ContinuousBackupsUnavailableException
			return errors.As(err, &unavailable), err
		})
		if err != nil {
			return fmt.Errorf("table %s was created, but enabling point-in-time recovery failed (enable it with: %s): %w", cfg.TargetTable,
				awsCLI(cfg, "update-continuous-backups", "--point-in-time-recovery-specification", "PointInTimeRecoveryEnabled=true"), err)
		}
	}
	next := suggest("backfill", cfg.tableFlags, cfg.Table, cfg.TargetTable)
	if cfg.RulesFile != "" {
		next += " --rules " + shellQuote(cfg.RulesFile)
	}
	if cfg.Output == outputJSON || cfg.Output == outputJSONL {
		return writeJSON(c.Stdout, struct {
			Command  string   `json:"command"`
			Source   string   `json:"source"`
			Target   string   `json:"target"`
			Warnings []string `json:"warnings"`
			Next     string   `json:"next"`
		}{"create-target", cfg.Table, cfg.TargetTable, append([]string{}, plan.Warnings...), next})
	}
	fmt.Fprintf(c.Stdout, "create-target: created table %s from %s (ACTIVE)\nnext: %s\n", cfg.TargetTable, cfg.Table, next)
	return nil
}

// checkKeyTypes refuses a --key-type that names no target key attribute
// (a typo would otherwise be ignored).
func checkKeyTypes(kt map[string]types.ScalarAttributeType, ks []types.KeySchemaElement) error {
	var names []string
	for _, e := range ks {
		names = append(names, aws.ToString(e.AttributeName))
	}
	var errs []error
	for n := range kt {
		if !slices.Contains(names, n) {
			errs = append(errs, &FlagError{Flag: "key-type", Err: fmt.Errorf("%s is not an attribute of the target's key (%s)", n, strings.Join(names, ", "))})
		}
	}
	return errors.Join(errs...)
}

// exists refuses a target table that exists.
func (c *CreateTargetCommand) exists(cfg CreateTargetConfig, loc location) error {
	account := loc.account()
	if cfg.TargetRoleARN != "" {
		account = "of role " + cfg.TargetRoleARN
	}
	return refused(fmt.Sprintf("target %s already exists (account %s): create-target only creates a new table and changed nothing; "+
		"choose another --target-table, or copy into this one with backfill", loc.where(cfg.TargetTable, true), account),
		suggest("backfill", cfg.tableFlags, cfg.Table, cfg.TargetTable, "--dry-run"))
}

// createTargetLine is the user's create-target command line with extra.
func createTargetLine(cfg CreateTargetConfig, extra ...string) string {
	s := suggest("create-target", cfg.tableFlags, cfg.Table, cfg.TargetTable)
	for _, f := range []struct{ flag, v string }{{"--rules", cfg.RulesFile}, {"--stream", cfg.Stream}, {"--kms-key-id", cfg.KMSKeyID}} {
		if f.v != "" {
			s += " " + f.flag + " " + shellQuote(f.v)
		}
	}
	for _, kt := range cfg.KeyTypes {
		s += " --key-type " + shellQuote(kt)
	}
	return strings.Join(append([]string{s}, extra...), " ")
}

// awsCLI renders an aws dynamodb command on the target table with the
// user's endpoint, region and profile, and says which role's credentials
// it needs for a target reached through --target-role-arn.
func awsCLI(cfg CreateTargetConfig, op string, args ...string) string {
	parts := []string{"aws dynamodb", op, "--table-name", shellQuote(cfg.TargetTable)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	region := cfg.Region
	if cfg.TargetRegion != "" {
		region = cfg.TargetRegion
	}
	for _, f := range []struct{ flag, v string }{{"--endpoint-url", cfg.Endpoint}, {"--region", region}, {"--profile", cfg.Profile}} {
		if f.v != "" {
			parts = append(parts, f.flag, shellQuote(f.v))
		}
	}
	if cfg.TargetRoleARN != "" {
		// The aws CLI has no flag for it: without the role's credentials
		// the command would look for the table in the caller's account.
		parts = append(parts, "(with credentials of role "+cfg.TargetRoleARN+": the table is in its account)")
	}
	return strings.Join(parts, " ")
}
