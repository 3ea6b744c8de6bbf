package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/stepfn"
)

// The AWS calls of --on step-functions.
type (
	stepFunctionsAPI = stepfn.API
	stackAPI         = stepfn.StackAPI
	backfillStack    = stepfn.Stack
)

func newStepFunctions(cfg aws.Config) *sfn.Client { return sfn.NewFromConfig(cfg) }

func newStacks(cfg aws.Config) *cloudformation.Client { return cloudformation.NewFromConfig(cfg) }

// findBackfillStack finds the state machine of a template-backfill.yaml
// stack: a stack without one is a configuration error (exit 3).
func findBackfillStack(ctx context.Context, api stackAPI, name string) (backfillStack, error) {
	s, err := stepfn.FindStack(ctx, api, name)
	if err != nil {
		return s, &awsError{err: err}
	}
	return s, nil
}

// ExecutionFailedError is an execution that did not succeed (exit status 1).
type ExecutionFailedError struct {
	// Status is its final state.
	Status stepfn.Status
	// Err is Follow's error.
	Err error
}

// Error says how the execution ended and where to look.
func (e *ExecutionFailedError) Error() string {
	msg := e.Err.Error()
	if f := e.Status.Files; f != nil {
		msg += fmt.Sprintf(" (files: %d succeeded, %d failed, %d timed out, %d aborted of %d)", f.Succeeded, f.Failed, f.TimedOut, f.Aborted, f.Total)
	}
	return msg + "; the failed child executions and the worker's errors are in the Step Functions console and the worker's log group"
}

// Unwrap returns Follow's error.
func (e *ExecutionFailedError) Unwrap() error { return e.Err }

// runStepFunctions starts the stack's state machine on the export and
// follows the execution to its end.
func (c *exportRun) runStepFunctions(ctx context.Context, cfg BackfillConfig, cl exportClients, stack backfillStack, exp *exportload.Export) error {
	if stack.Bucket != "" && stack.Bucket != exp.Bucket {
		return refused(fmt.Sprintf("the export is in bucket %s, but stack %s reads bucket %s (its ExportBucket)", exp.Bucket, stack.Name, stack.Bucket), exportCommandLine(cfg))
	}
	name := cfg.ExecutionName
	if name == "" {
		name = stepfn.ExecutionName(exp.Summary.ExportARN)
	}
	arn, err := stepfn.Start(ctx, cl.StepFunctions, stack.StateMachineARN, name, stepfn.InputFor(exp))
	existed := errors.Is(err, stepfn.ErrExecutionExists)
	if err != nil && !existed {
		return err
	}
	if !cfg.Quiet {
		what := "started"
		if existed {
			what = "already ran"
		}
		fmt.Fprintf(c.Stderr, "ddbsync backfill: execution %s %s\n", arn, what)
	}
	began := time.Now()
	pr := textProgress(cfg.progress(c.Stderr, "backfill"))
	var last time.Time
	var lastLine string
	st, err := stepfn.Follow(ctx, cl.StepFunctions, arn, c.pollInterval, func(s stepfn.Status) {
		if cfg.Quiet || s.Done() {
			return
		}
		line := string(s.Status)
		if f := s.Files; f != nil {
			line += fmt.Sprintf(": %d/%d files succeeded, %d running, %d pending, %d failed", f.Succeeded, f.Total, f.Running, f.Pending, f.Failed+f.TimedOut+f.Aborted)
		}
		now := time.Now()
		if line != lastLine || pr.W != nil && now.Sub(last) >= pr.Interval {
			fmt.Fprintf(c.Stderr, "ddbsync backfill: execution %s after %s\n", line, now.Sub(began).Round(time.Second))
			last, lastLine = now, line
		}
	})
	switch {
	case err == nil:
	case interrupted(ctx, err):
		return fmt.Errorf("the execution goes on: follow it with the same command (it finds the running execution), or stop it with "+
			"aws stepfunctions stop-execution --execution-arn %s: %w", arn, err)
	case errors.Is(err, stepfn.ErrExecutionFailed) && existed:
		return refused(fmt.Sprintf("execution %s of this export already ran and ended %s (%s: %s); to load again, name a new execution", name, st.Status, st.Error, st.Cause),
			exportCommandLine(cfg, "--execution-name", name+"-2"))
	case errors.Is(err, stepfn.ErrExecutionFailed):
		return &ExecutionFailedError{Status: st, Err: err}
	default:
		return err
	}
	files := ""
	if f := st.Files; f != nil {
		files = fmt.Sprintf(" (%d of %d files)", f.Succeeded, f.Total)
	}
	fmt.Fprintf(c.Stdout, "backfill: %d items of %d files loaded from %s into %s by execution %s%s\n",
		exp.Summary.ItemCount, len(exp.Files), exp.Summary.ExportARN, cfg.TargetTable, arn, files)
	return nil
}
