package codestatus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/artifact"
)

// Verdict is the outcome for one function in one region.
type Verdict string

// Verdicts, from best to worst.
const (
	Match           Verdict = "MATCH"
	DifferentCommit Verdict = "DIFFERENT COMMIT"
	DifferentCode   Verdict = "DIFFERENT CODE"
	NotDeployed     Verdict = "NOT DEPLOYED"
	Failed          Verdict = "ERROR"
)

// CommitVar is the function environment variable holding the commit the
// code was built from (template.yaml sets it from CommitSha).
const CommitVar = "DDBSYNC_COMMIT"

// UnknownCommit is the template's CommitSha default: no commit was given.
const UnknownCommit = "unknown"

// functionType is the CloudFormation type of a Lambda function.
const functionType = "AWS::Lambda::Function"

// ErrDrift is returned by callers when a result is not Match.
var ErrDrift = errors.New("deployed code differs from the local build")

// StackAPI is the part of *cloudformation.Client that Check calls.
type StackAPI interface {
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// FunctionAPI is the part of *lambda.Client that Check calls.
type FunctionAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
}

// Region is where to look: the clients of one region.
type Region struct {
	Name      string
	Stacks    StackAPI
	Functions FunctionAPI
}

// BuildFunc builds the local bootstrap for a GOARCH with a Makefile VERSION.
type BuildFunc func(ctx context.Context, goarch, version string) ([]byte, error)

// Options configures a Checker.
type Options struct {
	// Stack is the CloudFormation stack name (required).
	Stack string
	// Function limits the check to one logical ID ("" = every function).
	Function string
	// LocalCommit is the commit of the working tree (git rev-parse HEAD).
	LocalCommit string
	// Build builds the local bootstrap (required; see artifact.Build).
	Build BuildFunc
	// HTTPClient downloads deployed code (default http.DefaultClient).
	HTTPClient *http.Client
}

// Result is the check of one function in one region.
type Result struct {
	Region    string
	LogicalID string
	// FunctionName is the physical name ("" when not deployed).
	FunctionName string
	Verdict      Verdict
	// Architecture is the function's (arm64 or x86_64).
	Architecture string
	// DeployedCommit is the function's commit stamp ("" if none).
	DeployedCommit string
	// DeployedSHA256 and LocalSHA256 are the hex SHA-256 of the deployed
	// and local bootstrap.
	DeployedSHA256, LocalSHA256 string
	// Detail says why, in a few words.
	Detail string
}

// Checker compares deployed functions with the local build. Local builds
// are kept per architecture and version, so several regions cost one build.
type Checker struct {
	opts   Options
	builds map[string][]byte
}

// New returns a Checker.
func New(opts Options) *Checker {
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	return &Checker{opts: opts, builds: map[string][]byte{}}
}

// Drifted reports whether any result is not Match, or there is none.
func Drifted(results []Result) bool {
	for _, r := range results {
		if r.Verdict != Match {
			return true
		}
	}
	return len(results) == 0
}

// BuildVersion returns the Makefile VERSION that built code stamped with
// commit: the pipeline builds with VERSION=<commit> and deploys with
// CommitSha=<commit>; a plain `sam build` stamps artifact.DefaultVersion
// and deploys CommitSha's default, UnknownCommit.
func BuildVersion(commit string) string {
	if commit == "" || commit == UnknownCommit {
		return artifact.DefaultVersion
	}
	return commit
}

// Check checks the stack's functions in each region, in order. Failures
// of one function or region are results (NotDeployed or Failed), not
// errors.
func (c *Checker) Check(ctx context.Context, regions []Region) []Result {
	var out []Result
	for _, r := range regions {
		out = append(out, c.checkRegion(ctx, r)...)
	}
	return out
}

func (c *Checker) checkRegion(ctx context.Context, r Region) []Result {
	row := func(logicalID string, v Verdict, detail string) []Result {
		if logicalID == "" {
			logicalID = "-"
		}
		return []Result{{Region: r.Name, LogicalID: logicalID, Verdict: v, Detail: detail}}
	}
	resources, err := c.listFunctions(ctx, r.Stacks)
	switch {
	case isStackMissing(err):
		return row(c.opts.Function, NotDeployed, fmt.Sprintf("no stack %s", c.opts.Stack))
	case err != nil:
		return row(c.opts.Function, Failed, err.Error())
	case len(resources) == 0 && c.opts.Function != "":
		return row(c.opts.Function, NotDeployed, fmt.Sprintf("stack %s has no function %s", c.opts.Stack, c.opts.Function))
	case len(resources) == 0:
		return row("", NotDeployed, fmt.Sprintf("stack %s has no Lambda function", c.opts.Stack))
	}
	out := make([]Result, 0, len(resources))
	for _, res := range resources {
		out = append(out, c.checkFunction(ctx, r, res))
	}
	return out
}

// listFunctions returns the stack's Lambda functions (only opts.Function's
// if set).
func (c *Checker) listFunctions(ctx context.Context, api StackAPI) ([]cfntypes.StackResourceSummary, error) {
	var out []cfntypes.StackResourceSummary
	p := cloudformation.NewListStackResourcesPaginator(api, &cloudformation.ListStackResourcesInput{StackName: aws.String(c.opts.Stack)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list stack resources: %w", err)
		}
		for _, s := range page.StackResourceSummaries {
			if aws.ToString(s.ResourceType) != functionType {
				continue
			}
			if c.opts.Function != "" && aws.ToString(s.LogicalResourceId) != c.opts.Function {
				continue
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *Checker) checkFunction(ctx context.Context, r Region, res cfntypes.StackResourceSummary) Result {
	result := Result{Region: r.Name, LogicalID: aws.ToString(res.LogicalResourceId), FunctionName: aws.ToString(res.PhysicalResourceId)}
	fail := func(v Verdict, format string, args ...any) Result {
		result.Verdict, result.Detail = v, fmt.Sprintf(format, args...)
		return result
	}
	if result.FunctionName == "" || res.ResourceStatus == cfntypes.ResourceStatusDeleteComplete {
		return fail(NotDeployed, "resource status %s", res.ResourceStatus)
	}
	fn, err := r.Functions.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(result.FunctionName)})
	var notFound *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fail(NotDeployed, "function %s not found", result.FunctionName)
	case err != nil:
		return fail(Failed, "get function: %v", err)
	case fn.Configuration == nil:
		return fail(Failed, "get function: no configuration")
	}
	cfg := fn.Configuration
	result.DeployedCommit = deployedCommit(cfg)
	result.Architecture = "x86_64" // Lambda's default when none is listed
	if len(cfg.Architectures) > 0 {
		result.Architecture = string(cfg.Architectures[0])
	}
	goarch, err := artifact.GoArch(result.Architecture)
	if err != nil {
		return fail(Failed, "%v", err)
	}
	local, err := c.build(ctx, goarch, BuildVersion(result.DeployedCommit))
	if err != nil {
		return fail(Failed, "local build: %v", err)
	}
	result.LocalSHA256 = sha256Hex(local)

	deployed, err := c.deployedBootstrap(ctx, aws.ToString(cfg.CodeSha256), fn.Code, local)
	switch {
	case errors.Is(err, errNoBootstrap):
		return fail(DifferentCode, "%v", err)
	case err != nil:
		return fail(Failed, "%v", err)
	}
	result.DeployedSHA256 = sha256Hex(deployed)
	switch {
	case !bytes.Equal(deployed, local):
		return fail(DifferentCode, "%s", explainDifference(deployed, local, result.Architecture, goarch))
	case result.DeployedCommit != c.opts.LocalCommit:
		return fail(DifferentCommit, "same code; deployed commit %s, local %s", orNone(result.DeployedCommit), orNone(c.opts.LocalCommit))
	}
	return fail(Match, "bootstrap sha256 %s", short(result.LocalSHA256))
}

func (c *Checker) build(ctx context.Context, goarch, version string) ([]byte, error) {
	key := goarch + "/" + version
	if b, ok := c.builds[key]; ok {
		return b, nil
	}
	if c.opts.Build == nil {
		return nil, errors.New("no local build configured")
	}
	b, err := c.opts.Build(ctx, goarch, version)
	if err != nil {
		return nil, err
	}
	c.builds[key] = b
	return b, nil
}

// commitInDescription finds the stamp template.yaml writes into the
// function description.
var commitInDescription = regexp.MustCompile(`\bcommit ([0-9a-f]{7,40}|` + UnknownCommit + `)\b`)

func deployedCommit(cfg *lambdatypes.FunctionConfiguration) string {
	if cfg.Environment != nil {
		if v, ok := cfg.Environment.Variables[CommitVar]; ok {
			return v
		}
	}
	if m := commitInDescription.FindStringSubmatch(aws.ToString(cfg.Description)); m != nil {
		return m[1]
	}
	return ""
}

// isStackMissing reports whether err is CloudFormation's answer for a stack
// that does not exist: a ValidationError "Stack with id X does not exist".
func isStackMissing(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" &&
		strings.Contains(apiErr.ErrorMessage(), "does not exist")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return short(s)
}
