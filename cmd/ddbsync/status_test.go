package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeStatus is a hand-written fake of the four AWS APIs of status.
type fakeStatus struct {
	mapping   string // State
	result    string // LastProcessingResult
	visible   string
	ageSecond float64
	noStack   bool
}

func (f fakeStatus) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.noStack {
		return nil, &awsError{err: assert.AnError}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{Outputs: []cftypes.Output{
		{OutputKey: aws.String("FailureQueueUrl"), OutputValue: aws.String("https://sqs.us-east-1.amazonaws.com/123456789012/prod-failures")},
		{OutputKey: aws.String("TargetTableName"), OutputValue: aws.String("orders-copy")},
	}}}}, nil
}

func (f fakeStatus) ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	return &cloudformation.ListStackResourcesOutput{StackResourceSummaries: []cftypes.StackResourceSummary{
		{ResourceType: aws.String("AWS::Lambda::Function"), PhysicalResourceId: aws.String("prod-ReplicatorFunction")},
		{ResourceType: aws.String("AWS::Lambda::EventSourceMapping"), PhysicalResourceId: aws.String("uuid-1")},
		{ResourceType: aws.String("AWS::SQS::Queue"), PhysicalResourceId: aws.String("ignored")},
	}}, nil
}

func (f fakeStatus) GetEventSourceMapping(_ context.Context, in *lambda.GetEventSourceMappingInput, _ ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error) {
	return &lambda.GetEventSourceMappingOutput{UUID: in.UUID, State: aws.String(f.mapping), LastProcessingResult: aws.String(f.result),
		EventSourceArn: aws.String("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026")}, nil
}

func (f fakeStatus) GetFunctionConfiguration(context.Context, *lambda.GetFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	return &lambda.GetFunctionConfigurationOutput{State: lambdatypes.StateActive, LastUpdateStatus: lambdatypes.LastUpdateStatusSuccessful,
		CodeSha256: aws.String("abc="), Environment: &lambdatypes.EnvironmentResponse{Variables: map[string]string{"DDBSYNC_COMMIT": "f470e46"}}}, nil
}

func (f fakeStatus) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	t0 := aws.ToTime(in.EndTime)
	vals := map[string][]float64{"iteratorAge": {1200, 800}, "lag": {35, 90}, "oldest": {f.ageSecond, 1}}
	var out []cwtypes.MetricDataResult
	for _, q := range in.MetricDataQueries {
		v := vals[aws.ToString(q.Id)]
		out = append(out, cwtypes.MetricDataResult{Id: q.Id, Timestamps: []time.Time{t0.Add(-time.Minute), t0.Add(-2 * time.Minute)}, Values: v})
	}
	return &cloudwatch.GetMetricDataOutput{MetricDataResults: out}, nil
}

func (f fakeStatus) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessages": f.visible, "ApproximateNumberOfMessagesNotVisible": "0"}}, nil
}

func TestStatusCommand(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		fake     fakeStatus
		output   string
		wantCode int
		golden   string
	}{
		"healthy, text":  {fake: fakeStatus{mapping: "Enabled", result: "OK", visible: "0"}, output: "text", golden: "status/healthy.golden"},
		"healthy, json":  {fake: fakeStatus{mapping: "Enabled", result: "OK", visible: "0"}, output: "json", golden: "status/healthy.json.golden"},
		"failures, json": {fake: fakeStatus{mapping: "Enabled", result: "PROBLEM: Function call failed", visible: "3", ageSecond: 7200}, output: "json", wantCode: exitError, golden: "status/failures.json.golden"},
		"disabled, text": {fake: fakeStatus{mapping: "Disabled", result: "OK", visible: "2", ageSecond: 3600}, output: "text", wantCode: exitError, golden: "status/disabled.golden"},
		"no such stack":  {fake: fakeStatus{noStack: true}, output: "text", wantCode: exitAWS},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := &StatusCommand{Stdout: &stdout, Stderr: &stderr,
				awsConfig: func(context.Context, string) (aws.Config, error) { return aws.Config{Region: "us-east-1"}, nil },
				clients: func(aws.Config) statusClients {
					return statusClients{Stacks: tt.fake, Lambda: tt.fake, Metrics: tt.fake, Queues: tt.fake}
				},
				now: func() time.Time { return now },
			}
			err := cmd.Run(t.Context(), []string{"--stack", "prod", "--output", tt.output})
			assert.Equal(t, tt.wantCode, exitCode(&stderr, "status", err), stderr.String())
			if tt.golden != "" {
				testkit.Golden(t, tt.golden, stdout.Bytes())
			}
		})
	}
	require.FileExists(t, filepath.Join("testdata", "status", "healthy.json.golden"))
}

// TestStatusCommand_HintCarriesFlags: the redrive hint carries the user's
// own --profile, --region and --endpoint-url.
func TestStatusCommand_HintCarriesFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	fake := fakeStatus{mapping: "Enabled", result: "OK", visible: "1", ageSecond: 60}
	cmd := &StatusCommand{Stdout: &stdout, Stderr: &stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return aws.Config{Region: "eu-west-1"}, nil },
		clients: func(aws.Config) statusClients {
			return statusClients{Stacks: fake, Lambda: fake, Metrics: fake, Queues: fake}
		},
	}
	err := cmd.Run(t.Context(), []string{"--stack", "prod", "--profile", "ops", "--region", "eu-west-1", "--endpoint-url", "http://127.0.0.1:8000"})
	assert.Equal(t, exitError, exitCode(&stderr, "status", err))
	assert.Contains(t, stdout.String(), "ddbsync redrive --profile ops --endpoint-url http://127.0.0.1:8000 --region eu-west-1 --table orders --target-table orders-copy --queue-url ")
}
