package main

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/stepfn"
)

const fakeStateMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:bf-backfill"

// fakeStepFunctions is an in-memory Step Functions API: each execution is
// RUNNING for its first describe, then ends with final.
type fakeStepFunctions struct {
	final sfntypes.ExecutionStatus
	mu    sync.Mutex
	input map[string]string // by execution name
	calls map[string]int    // describes by execution ARN
}

func (f *fakeStepFunctions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Name)
	if prev, ok := f.input[name]; ok && (prev != aws.ToString(in.Input) || f.calls[stepfn.ExecutionARN(fakeStateMachine, name)] > 1) {
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists")}
	}
	f.input[name] = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(stepfn.ExecutionARN(aws.ToString(in.StateMachineArn), name))}, nil
}

func (f *fakeStepFunctions) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(in.ExecutionArn)
	f.calls[arn]++
	out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning, StartDate: aws.Time(time.Now())}
	if f.calls[arn] > 1 {
		out.Status = f.final
		if f.final == sfntypes.ExecutionStatusFailed {
			out.Error, out.Cause = aws.String("States.ExceedToleratedFailureThreshold"), aws.String("The specified tolerated failure threshold was exceeded")
		}
	}
	return out, nil
}

func (f *fakeStepFunctions) ListMapRuns(_ context.Context, in *sfn.ListMapRunsInput, _ ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error) {
	return &sfn.ListMapRunsOutput{MapRuns: []sfntypes.MapRunListItem{{MapRunArn: aws.String(aws.ToString(in.ExecutionArn) + "/map")}}}, nil
}

func (f *fakeStepFunctions) DescribeMapRun(context.Context, *sfn.DescribeMapRunInput, ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error) {
	c := &sfntypes.MapRunItemCounts{Total: 2, Succeeded: 2}
	if f.final == sfntypes.ExecutionStatusFailed {
		c.Succeeded, c.Failed = 1, 1
	}
	return &sfn.DescribeMapRunOutput{ItemCounts: c}, nil
}

// fakeStacks answers DescribeStacks for a template-backfill.yaml stack.
type fakeStacks struct{ bucket, target string }

func (f fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
		StackName:   in.StackName,
		StackStatus: cfntypes.StackStatusCreateComplete,
		Outputs:     []cfntypes.Output{{OutputKey: aws.String(stepfn.OutputStateMachineARN), OutputValue: aws.String(fakeStateMachine)}},
		Parameters: []cfntypes.Parameter{
			{ParameterKey: aws.String(stepfn.ParamExportBucket), ParameterValue: aws.String(f.bucket)},
			{ParameterKey: aws.String(stepfn.ParamTargetTable), ParameterValue: aws.String(f.target)},
		},
	}}}, nil
}

func TestBackfillCommand_StepFunctions(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 2, 5, time.Now().Add(-time.Hour), nil)
	tests := map[string]struct {
		final      sfntypes.ExecutionStatus
		target     string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		"succeeded": {final: sfntypes.ExecutionStatusSucceeded, target: "target", code: exitOK,
			wantStdout: []string{"backfill: 10 items of 2 files loaded from arn:aws:dynamodb:us-east-1:000000000000:table/source/export/01700000000000-abcdef01 into target by execution " +
				"arn:aws:states:us-east-1:000000000000:execution:bf-backfill:ddbsync-01700000000000-abcdef01 (2 of 2 files)", "locally: ddbsync run "},
			wantStderr: []string{"by the state machine of stack bf", "execution RUNNING: 2/2 files succeeded"}},
		"failed": {final: sfntypes.ExecutionStatusFailed, target: "target", code: exitError,
			wantStderr: []string{"FAILED", "States.ExceedToleratedFailureThreshold", "files: 1 succeeded, 1 failed"}},
		"another target": {final: sfntypes.ExecutionStatusSucceeded, target: "elsewhere", code: exitUsage,
			wantStderr: []string{"refused: stack bf loads table elsewhere (its TargetTableName), not --target-table target"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fake := &fakeStepFunctions{final: tt.final, input: map[string]string{}, calls: map[string]int{}}
			e.clients = func(cl exportClients) exportClients {
				cl.StepFunctions, cl.Stacks = fake, fakeStacks{bucket: e.bucket, target: tt.target}
				return cl
			}
			code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", e.uri(), "--on", "step-functions", "--stack", "bf", "--yes")
			assert.Equal(t, tt.code, code, stderr)
			for _, want := range tt.wantStdout {
				assert.Contains(t, stdout, want)
			}
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			assert.Zero(t, e.items(t, "target"), "the state machine loads, not the CLI")
			if tt.code == exitUsage {
				assert.Empty(t, fake.input)
				return
			}
			var in stepfn.Input
			require.NoError(t, json.Unmarshal([]byte(fake.input["ddbsync-01700000000000-abcdef01"]), &in))
			assert.Equal(t, stepfn.Input{Bucket: e.bucket, ManifestFilesKey: e.dir + "/" + exportload.FilesName,
				ExportArn: "arn:aws:dynamodb:us-east-1:000000000000:table/source/export/01700000000000-abcdef01"}, in)
		})
	}
}

// fakeExports is DynamoDB's export API: point-in-time recovery on or off,
// and an export that is IN_PROGRESS once, then COMPLETED in the env's
// bucket.
type fakeExports struct {
	pitr      bool
	bucket    string
	dir       string
	describes int
	started   *dynamodb.ExportTableToPointInTimeInput
}

func (f *fakeExports) DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error) {
	st := ddbtypes.PointInTimeRecoveryStatusDisabled
	if f.pitr {
		st = ddbtypes.PointInTimeRecoveryStatusEnabled
	}
	return &dynamodb.DescribeContinuousBackupsOutput{ContinuousBackupsDescription: &ddbtypes.ContinuousBackupsDescription{
		PointInTimeRecoveryDescription: &ddbtypes.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: st}}}, nil
}

func (f *fakeExports) ExportTableToPointInTime(_ context.Context, in *dynamodb.ExportTableToPointInTimeInput, _ ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error) {
	f.started = in
	return &dynamodb.ExportTableToPointInTimeOutput{ExportDescription: &ddbtypes.ExportDescription{
		ExportArn: aws.String("arn:aws:dynamodb:us-east-1:000000000000:table/source/export/01700000000000-abcdef01")}}, nil
}

func (f *fakeExports) DescribeExport(_ context.Context, in *dynamodb.DescribeExportInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error) {
	f.describes++
	d := &ddbtypes.ExportDescription{ExportArn: in.ExportArn, ExportStatus: ddbtypes.ExportStatusInProgress, S3Bucket: aws.String(f.bucket)}
	if f.describes > 1 {
		d.ExportStatus, d.ItemCount, d.BilledSizeBytes = ddbtypes.ExportStatusCompleted, aws.Int64(10), aws.Int64(1234)
		d.ExportManifest = aws.String(f.dir + "/" + exportload.SummaryName)
		d.ExportTime = aws.Time(time.Now().Add(-time.Minute))
	}
	return &dynamodb.DescribeExportOutput{ExportDescription: d}, nil
}

func TestBackfillCommand_NewExport(t *testing.T) {
	t.Parallel()
	e := newExportEnv(t, 2, 5, time.Now().Add(-time.Minute), nil)
	t.Run("point-in-time recovery off", func(t *testing.T) {
		fake := &fakeExports{bucket: e.bucket, dir: e.dir}
		e.clients = func(cl exportClients) exportClients { cl.Exports = fake; return cl }
		code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", "--export-to", "s3://"+e.bucket+"/exports/source", "--yes")
		assert.Equal(t, exitAWS, code, stderr)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "point-in-time recovery is not enabled")
		assert.Contains(t, stderr, "aws dynamodb update-continuous-backups --table-name source --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")
		assert.Nil(t, fake.started)
	})
	t.Run("dry run starts nothing", func(t *testing.T) {
		fake := &fakeExports{pitr: true, bucket: e.bucket, dir: e.dir}
		e.clients = func(cl exportClients) exportClients { cl.Exports = fake; return cl }
		code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", "--export-to", "s3://"+e.bucket+"/exports/source", "--dry-run")
		assert.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "would start an export to s3://"+e.bucket+"/exports/source")
		assert.Nil(t, fake.started)
	})
	t.Run("starts, waits and loads", func(t *testing.T) {
		fake := &fakeExports{pitr: true, bucket: e.bucket, dir: e.dir}
		e.clients = func(cl exportClients) exportClients { cl.Exports = fake; return cl }
		code, stdout, stderr := e.backfill(t.Context(), t, "--from-export", "--export-to", "s3://"+e.bucket+"/exports/source", "--yes")
		require.Equal(t, exitOK, code, stderr)
		require.NotNil(t, fake.started)
		assert.Equal(t, e.bucket, aws.ToString(fake.started.S3Bucket))
		assert.Equal(t, "exports/source", aws.ToString(fake.started.S3Prefix))
		assert.Equal(t, ddbtypes.ExportFormatDynamodbJson, fake.started.ExportFormat)
		assert.Contains(t, stderr, "start a point-in-time export of source to s3://"+e.bucket+"/exports/source")
		assert.Contains(t, stderr, "ddbsync backfill: export started: arn:")
		assert.Contains(t, stderr, "IN_PROGRESS after")
		assert.Contains(t, stderr, "export completed after")
		assert.Contains(t, stdout, "backfill: 10 items of 2 files loaded")
		e.verify(t)
	})
}
