package stepfn_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/stepfn"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

func TestExecutionName(t *testing.T) {
	tests := map[string]struct{ arn, want string }{
		"export id":  {"arn:aws:dynamodb:us-east-1:1:table/t/export/01700000000000-abcdef01", "ddbsync-01700000000000-abcdef01"},
		"bad chars":  {"arn:x/export/a.b c", "ddbsync-a-b-c"},
		"cut at 80":  {"arn:x/export/" + "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890", "ddbsync-012345678901234567890123456789012345678901234567890123456789012345678901"},
		"state name": {"x", "ddbsync-x"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := stepfn.ExecutionName(tt.arn)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), 80)
		})
	}
	assert.Equal(t, "arn:aws:states:us-east-1:1:execution:sm:run", stepfn.ExecutionARN("arn:aws:states:us-east-1:1:stateMachine:sm", "run"))
}

// TestStartFollow_Moto runs Start, Describe and Follow against moto's Step
// Functions (CreateStateMachine, StartExecution, DescribeExecution; it has
// no Distributed Map and no map runs), so that the fake of the CLI's tests
// answers as the SDK client does.
func TestStartFollow_Moto(t *testing.T) {
	endpoint := testkit.Moto(t)
	client := sfn.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")},
		func(o *sfn.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ctx := t.Context()
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("bf-backfill"),
		Definition: aws.String(`{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/sfn"),
	})
	require.NoError(t, err)
	smARN := aws.ToString(sm.StateMachineArn)
	in := stepfn.Input{Bucket: "b", ManifestFilesKey: "p/AWSDynamoDB/id/manifest-files.json", ExportArn: "arn:aws:dynamodb:us-east-1:1:table/t/export/id"}

	arn, err := stepfn.Start(ctx, client, smARN, "ddbsync-id", in)
	require.NoError(t, err)
	assert.Equal(t, stepfn.ExecutionARN(smARN, "ddbsync-id"), arn, "the execution ARN the package derives for a closed execution")

	out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Bucket":"b","ManifestFilesKey":"p/AWSDynamoDB/id/manifest-files.json","ExportArn":"arn:aws:dynamodb:us-east-1:1:table/t/export/id"}`, aws.ToString(out.Input))

	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := stepfn.Follow(fctx, client, arn, 50*time.Millisecond, nil)
	if err != nil {
		// moto leaves executions RUNNING unless told to finish them:
		// Follow then ends with the context, having described it.
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, sfntypes.ExecutionStatusRunning, st.Status)
	} else {
		assert.Equal(t, sfntypes.ExecutionStatusSucceeded, st.Status)
	}
	assert.Equal(t, arn, st.ARN)
	assert.False(t, st.Started.IsZero())
}

// slowDescribe answers the first DescribeExecution RUNNING and holds every
// later one until its context ends, as a slow endpoint does when Follow's
// context runs out mid-call.
type slowDescribe struct {
	stepfn.API
	calls int
}

func (s *slowDescribe) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	s.calls++
	if s.calls > 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning, StartDate: aws.Time(time.Now())}, nil
}

func (s *slowDescribe) ListMapRuns(context.Context, *sfn.ListMapRunsInput, ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error) {
	return &sfn.ListMapRunsOutput{}, nil
}

// TestFollow_ContextEndsMidCall: a follow stopped while a DescribeExecution
// is in flight returns the last state it described, with the context's
// error, not an empty one (it made TestStartFollow_Moto flaky under load).
func TestFollow_ContextEndsMidCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	st, err := stepfn.Follow(ctx, &slowDescribe{}, "arn:aws:states:us-east-1:1:execution:sm:run", 10*time.Millisecond, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, sfntypes.ExecutionStatusRunning, st.Status)
	assert.Equal(t, "arn:aws:states:us-east-1:1:execution:sm:run", st.ARN)
}
