// Package stepfn starts and follows the backfill state machine of
// template-backfill.yaml (statemachine/backfill.asl.json): a Distributed
// Map over an export's manifest-files.json, one child execution per data
// file, each invoking the export worker. It is what `ddbsync backfill
// --from-export --on step-functions --stack NAME` calls.
//
// # Finding the state machine
//
// [FindStack] reads the stack's StateMachineArn output, and its
// ExportBucket and TargetTableName parameters (DescribeStacks).
//
// # Starting and following
//
// [Start] calls StartExecution with the [Input] the state machine's
// Prepare state reads. The execution's name defaults to [ExecutionName] of
// the export: StartExecution with the name and input of a running
// execution returns that execution, so a rerun follows it instead of
// starting a second load
// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
// A closed execution of that name is reported with [ErrExecutionExists].
// [Follow] calls DescribeExecution, and DescribeMapRun for the files'
// counts, until the execution is no longer RUNNING.
package stepfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/ddbsync/ddbsync/internal/exportload"
)

// Names in template-backfill.yaml.
const (
	// OutputStateMachineARN is the stack output with the state machine.
	OutputStateMachineARN = "StateMachineArn"
	// ParamExportBucket and ParamTargetTable are the stack parameters.
	ParamExportBucket = "ExportBucket"
	ParamTargetTable  = "TargetTableName"
	// ParamRules is the stack's rule set (the workers' RULES), as
	// rules.ParseEnv reads it; empty for none.
	ParamRules = "ReplicationRules"
)

// DefaultPollInterval is how often Follow calls DescribeExecution.
const DefaultPollInterval = 10 * time.Second

// maxNameLen is the longest execution name Step Functions accepts.
const maxNameLen = 80

// Errors.
var (
	// ErrNoStateMachine is returned when the stack has no StateMachineArn
	// output: it is not a stack of template-backfill.yaml.
	ErrNoStateMachine = errors.New("stack has no StateMachineArn output")
	// ErrExecutionExists is returned by Start when a closed execution has
	// the name (its ARN is returned too).
	ErrExecutionExists = errors.New("an execution of this name already ran")
	// ErrExecutionFailed is returned by Follow for an execution that ended
	// FAILED, TIMED_OUT or ABORTED.
	ErrExecutionFailed = errors.New("execution did not succeed")
)

// API is the part of *sfn.Client the package calls.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, optFns ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error)
	DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, optFns ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error)
}

var _ API = (*sfn.Client)(nil)

// StackAPI is the part of *cloudformation.Client FindStack calls.
type StackAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ StackAPI = (*cloudformation.Client)(nil)

// Stack is a deployed template-backfill.yaml.
type Stack struct {
	// Name is the stack's name.
	Name string
	// StateMachineARN is the backfill state machine.
	StateMachineARN string
	// Bucket is the ExportBucket parameter: where exports are read from.
	Bucket string
	// TargetTable is the TargetTableName parameter: what the worker loads.
	TargetTable string
	// Rules is the ReplicationRules parameter: the rule set the workers
	// apply ("" for none).
	Rules string
}

// FindStack describes the stack name and returns its state machine and
// parameters; ErrNoStateMachine when it has no StateMachineArn output.
func FindStack(ctx context.Context, api StackAPI, name string) (Stack, error) {
	out, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("describe stack %s: no such stack", name)
	}
	st := out.Stacks[0]
	s := Stack{Name: name}
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == OutputStateMachineARN {
			s.StateMachineARN = aws.ToString(o.OutputValue)
		}
	}
	for _, p := range st.Parameters {
		switch aws.ToString(p.ParameterKey) {
		case ParamExportBucket:
			s.Bucket = aws.ToString(p.ParameterValue)
		case ParamTargetTable:
			s.TargetTable = aws.ToString(p.ParameterValue)
		case ParamRules:
			s.Rules = aws.ToString(p.ParameterValue)
		}
	}
	if s.StateMachineARN == "" {
		return s, fmt.Errorf("find state machine of stack %s (%s): %w; deploy template-backfill.yaml", name, st.StackStatus, ErrNoStateMachine)
	}
	return s, nil
}

// Input is the execution input the state machine's Prepare state reads.
type Input struct {
	// Bucket is the export's bucket (manifest-summary.json's s3Bucket).
	Bucket string `json:"Bucket"`
	// ManifestFilesKey is manifest-files.json's key (manifestFilesS3Key).
	ManifestFilesKey string `json:"ManifestFilesKey"`
	// ExportArn is the export's ARN.
	ExportArn string `json:"ExportArn"`
}

// InputFor returns the execution input of an export read by
// exportload.ReadExport.
func InputFor(exp *exportload.Export) Input {
	key := exp.Summary.ManifestFilesS3Key
	return Input{Bucket: exp.Bucket, ManifestFilesKey: key, ExportArn: exp.Summary.ExportARN}
}

// badName matches the characters an execution name must not have.
var badName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// ExecutionName returns the default execution name for an export:
// "ddbsync-" and the export's id (the ARN's last part), cut to 80
// characters.
func ExecutionName(exportARN string) string {
	id := exportARN[strings.LastIndex(exportARN, "/")+1:]
	name := "ddbsync-" + badName.ReplaceAllString(id, "-")
	return name[:min(len(name), maxNameLen)]
}

// ExecutionARN returns the ARN of the execution name of stateMachineARN.
func ExecutionARN(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Start starts an execution of stateMachineARN named name with in and
// returns its ARN. If an execution of that name is running with the same
// input, Step Functions returns it; if one of that name is closed, Start
// returns its ARN and ErrExecutionExists.
func Start(ctx context.Context, api API, stateMachineARN, name string, in Input) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("encode execution input: %w", err)
	}
	out, err := api.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(stateMachineARN), Name: aws.String(name), Input: aws.String(string(b)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return ExecutionARN(stateMachineARN, name), fmt.Errorf("start execution %s: %w (%s)", name, ErrExecutionExists, exists.ErrorMessage())
	}
	if err != nil {
		return "", fmt.Errorf("start execution %s of %s: %w", name, stateMachineARN, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// Counts are a Map Run's item counts: one item per data file.
type Counts struct {
	Total, Pending, Running, Succeeded, Failed, TimedOut, Aborted int64
}

// Status is an execution's state.
type Status struct {
	// ARN is the execution's ARN.
	ARN string
	// Status is RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
	Status sfntypes.ExecutionStatus
	// Started and Stopped are its start and stop times.
	Started, Stopped time.Time
	// Error and Cause say why it failed.
	Error, Cause string
	// Output is its output (the Summary state's), once it succeeded.
	Output string
	// MapRunARN and Files are the Distributed Map's run (ListMapRuns) and
	// its item counts (DescribeMapRun), once it started; Files is nil
	// before, or when either call fails.
	MapRunARN string
	Files     *Counts
}

// Done reports whether the execution is closed.
func (s Status) Done() bool { return s.Status != "" && s.Status != sfntypes.ExecutionStatusRunning }

// Describe returns the execution's state, with its Map Run's counts once
// it has one (a failed ListMapRuns or DescribeMapRun leaves them out: they
// are progress, not the result).
func Describe(ctx context.Context, api API, arn string) (Status, error) {
	out, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return Status{}, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	s := Status{ARN: arn, Status: out.Status, Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause),
		Output: aws.ToString(out.Output)}
	if out.StartDate != nil {
		s.Started = *out.StartDate
	}
	if out.StopDate != nil {
		s.Stopped = *out.StopDate
	}
	if runs, err := api.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)}); err == nil && len(runs.MapRuns) > 0 {
		s.MapRunARN = aws.ToString(runs.MapRuns[0].MapRunArn)
	} else {
		s.MapRunARN = mapRunOf(s.Output)
	}
	if s.MapRunARN != "" {
		if m, err := api.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(s.MapRunARN)}); err == nil && m.ItemCounts != nil {
			c := m.ItemCounts
			s.Files = &Counts{Total: c.Total, Pending: c.Pending, Running: c.Running, Succeeded: c.Succeeded,
				Failed: c.Failed, TimedOut: c.TimedOut, Aborted: c.Aborted}
		}
	}
	return s, nil
}

// mapRunOf returns the MapRunArn of the Summary state's output, or "".
func mapRunOf(output string) string {
	var out struct {
		MapRunArn string `json:"MapRunArn"`
	}
	if output == "" || json.Unmarshal([]byte(output), &out) != nil {
		return ""
	}
	return out.MapRunArn
}

// Follow describes the execution every interval (zero means
// DefaultPollInterval), calling progress, if not nil, with each state,
// until it is closed. It returns the final state, and an error wrapping
// ErrExecutionFailed unless it SUCCEEDED.
func Follow(ctx context.Context, api API, arn string, interval time.Duration, progress func(Status)) (Status, error) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	var last Status // the last status described, returned when ctx ends mid-call
	for {
		s, err := Describe(ctx, api, arn)
		if err != nil {
			if ctx.Err() != nil && last.ARN != "" {
				return last, fmt.Errorf("follow execution %s: %w", arn, context.Cause(ctx))
			}
			return s, err
		}
		last = s
		if progress != nil {
			progress(s)
		}
		if s.Done() {
			if s.Status != sfntypes.ExecutionStatusSucceeded {
				return s, fmt.Errorf("execution %s: %s: %w: %s: %s", arn, s.Status, ErrExecutionFailed, s.Error, s.Cause)
			}
			return s, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return s, fmt.Errorf("follow execution %s: %w", arn, context.Cause(ctx))
		case <-t.C:
		}
	}
}
