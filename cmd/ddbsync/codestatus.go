package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/artifact"
	"github.com/ddbsync/ddbsync/internal/codestatus"
)

// CodeStatusCommand is `ddbsync code-status`: is the code a stack runs in
// Lambda, in each region, the code of this working tree and its commit?
type CodeStatusCommand struct {
	Stdout, Stderr io.Writer

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
}

// CodeStatusConfig is the configuration of `ddbsync code-status`, from its
// flags.
type CodeStatusConfig struct {
	Stack    string
	Regions  string
	Profile  string
	Function string
	Dir      string
}

func (c *CodeStatusConfig) flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Stack, "stack", "", "`NAME` of the CloudFormation stack (required), the same in every region")
	fs.StringVar(&c.Regions, "region", "", "comma-separated `REGIONS` to check; default: the AWS configuration's region")
	fs.StringVar(&c.Function, "function", "", "check only the function with this `LOGICAL_ID` (such as ReplicatorFunction)")
	fs.StringVar(&c.Dir, "dir", ".", "repository root to build from (where the Makefile is)")
}

// regions returns the --region list, without blanks.
func (c CodeStatusConfig) regions() []string {
	var out []string
	for _, r := range strings.Split(c.Regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Validate checks the configuration; errors are *FlagError.
func (c CodeStatusConfig) Validate() error {
	var errs []error
	if c.Stack == "" {
		errs = append(errs, &FlagError{Flag: "stack", Err: errors.New("is required")})
	}
	if strings.TrimSpace(c.Regions) != "" && len(c.regions()) == 0 {
		errs = append(errs, &FlagError{Flag: "region", Err: fmt.Errorf("%q names no region", c.Regions)})
	}
	return errors.Join(errs...)
}

var codeStatusHelp = `Usage: ddbsync code-status --stack NAME [--region R1,R2] [--function LOGICAL_ID] [flags]

Tells whether the Lambda functions of a stack run the code of this working
tree and commit, in each region. For every AWS::Lambda::Function of the
stack it reads the deployed code (GetFunction), builds the function here
with the Makefile target sam build runs, for the function's architecture
and with the VERSION the pipeline stamps (the deployed commit), and
compares the bootstrap binaries; then it compares the commit stamp
(DDBSYNC_COMMIT, from the template's CommitSha) with git HEAD.

Verdicts, one line per function and region:
  MATCH             same code and same commit
  DIFFERENT CODE    the binary differs (another commit, a console edit, a
                    dirty tree, another Go toolchain or architecture)
  DIFFERENT COMMIT  same code, another (or no) commit stamp
  NOT DEPLOYED      no such stack or function in that region
  ERROR             a call failed (permissions, network)

Needs cloudformation:ListStackResources and lambda:GetFunction, make, git
and Go. The same commit always builds the same bytes (make verify-build).

` + exitStatusHelp("a line is not MATCH") + `
Examples:
  ddbsync code-status --stack ddbsync-prod --region us-east-1,eu-west-1
  ddbsync code-status --stack ddbsync-dev --function ReplicatorFunction
`

// Run parses args, checks the stack in each region and prints the report.
func (c *CodeStatusCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

// command returns `ddbsync code-status` bound to the global flags g; its
// own --region takes a list.
func (c *CodeStatusCommand) command(g *globalFlags) *cobra.Command {
	cfg := CodeStatusConfig{}
	cmd := &cobra.Command{
		Use:         "code-status",
		Short:       "compare the deployed Lambda code with this commit's build",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: codeStatusHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Profile = g.Profile
			return c.run(cmd.Context(), cfg)
		},
	}
	cfg.flags(cmd.Flags())
	return cmd
}

// run checks the stack with the parsed configuration.
func (c *CodeStatusCommand) run(ctx context.Context, cfg CodeStatusConfig) error {
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync code-status --help"}
	}
	regions := cfg.regions()
	load := c.awsConfig
	if load == nil {
		load = func(ctx context.Context, region string) (aws.Config, error) {
			opts := []func(*config.LoadOptions) error{config.WithRegion(region), config.WithLogger(logging.Nop{})}
			if cfg.Profile != "" {
				opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
			}
			return config.LoadDefaultConfig(ctx, opts...)
		}
	}
	first := ""
	if len(regions) > 0 {
		first = regions[0]
	}
	awsCfg, err := load(ctx, first)
	if err != nil {
		return &awsError{err: fmt.Errorf("load AWS config: %w", err)}
	}
	if len(regions) == 0 {
		if awsCfg.Region == "" {
			return &usageError{err: errors.New("no AWS region: pass --region or set AWS_REGION"), hint: "ddbsync code-status --stack " + cfg.Stack + " --region us-east-1"}
		}
		regions = []string{awsCfg.Region}
	}

	src, err := artifact.HeadCommit(ctx, cfg.Dir)
	if err != nil {
		return fmt.Errorf("read local commit: %w", err)
	}
	checker := codestatus.New(codestatus.Options{
		Stack:       cfg.Stack,
		Function:    cfg.Function,
		LocalCommit: src.Commit,
		Build: func(ctx context.Context, goarch, version string) ([]byte, error) {
			fmt.Fprintf(c.Stderr, "code-status: building linux/%s with VERSION=%s (make %s)\n", goarch, version, artifact.Target)
			return artifact.Build(ctx, artifact.BuildOptions{Dir: cfg.Dir, GOARCH: goarch, Version: version})
		},
	})
	clients := make([]codestatus.Region, len(regions))
	for i, r := range regions {
		clients[i] = codestatus.Region{
			Name:      r,
			Stacks:    cloudformation.NewFromConfig(awsCfg, func(o *cloudformation.Options) { o.Region = r }),
			Functions: lambda.NewFromConfig(awsCfg, func(o *lambda.Options) { o.Region = r }),
		}
	}
	results := checker.Check(ctx, clients)
	if err := codestatus.WriteReport(c.Stdout, cfg.Stack, src, results); err != nil {
		return err
	}
	if codestatus.Drifted(results) {
		return fmt.Errorf("%w (stack %s)", codestatus.ErrDrift, cfg.Stack)
	}
	return nil
}
