package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// statusStackTemplate is a stack with what status reads: the replicator
// function, its event source mapping on a stream, the failure queue and
// the outputs template.yaml has.
const statusStackTemplate = `{
  "Resources": {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
    "FailureQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "status-moto-failures"}},
    "ReplicatorFunction": {"Type": "AWS::Lambda::Function", "Properties": {
      "Runtime": "provided.al2023", "Handler": "bootstrap", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
      "Code": {"ZipFile": "bootstrap"}, "Environment": {"Variables": {"DDBSYNC_COMMIT": "f470e46"}}}},
    "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
      "FunctionName": {"Ref": "ReplicatorFunction"}, "EventSourceArn": "STREAM_ARN", "StartingPosition": "LATEST"}}
  },
  "Outputs": {
    "FailureQueueUrl": {"Value": {"Ref": "FailureQueue"}},
    "TargetTableName": {"Value": "orders-copy"}
  }
}`

// TestStatusCommand_Moto runs status through the real SDK clients against
// moto_server (CloudFormation, Lambda, SQS; CloudWatch from fakeStatus), so
// the requests status sends and the answers it parses are the AWS APIs' own,
// not only fakeStatus's idea of them: a deployed stack with a message in its
// failure queue.
func TestStatusCommand_Moto(t *testing.T) {
	ctx := t.Context()
	endpoint := testkit.Moto(t)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("moto", "moto", "")}

	table, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("orders"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err)
	body := bytes.ReplaceAll([]byte(statusStackTemplate), []byte("STREAM_ARN"), []byte(aws.ToString(table.TableDescription.LatestStreamArn)))
	cf := cloudformation.NewFromConfig(cfg)
	_, err = cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("ddbsync-prod"), TemplateBody: aws.String(string(body))})
	require.NoError(t, err)
	require.NoError(t, cloudformation.NewStackCreateCompleteWaiter(cf, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
	}).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("ddbsync-prod")}, time.Minute))

	stack, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("ddbsync-prod")})
	require.NoError(t, err)
	var queueURL string
	for _, o := range stack.Stacks[0].Outputs {
		if aws.ToString(o.OutputKey) == "FailureQueueUrl" {
			queueURL = aws.ToString(o.OutputValue)
		}
	}
	require.NotEmpty(t, queueURL)
	_, err = sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(`{"DDBStreamBatchInfo":{}}`)})
	require.NoError(t, err)
	res, err := cf.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String("ddbsync-prod")})
	require.NoError(t, err)
	var function string
	for _, r := range res.StackResourceSummaries {
		if aws.ToString(r.ResourceType) == "AWS::Lambda::Function" {
			function = aws.ToString(r.PhysicalResourceId)
		}
	}
	require.NotEmpty(t, function)
	var stdout, stderr bytes.Buffer
	cmd := &StatusCommand{Stdout: &stdout, Stderr: &stderr,
		awsConfig: func(context.Context, string) (aws.Config, error) { return cfg, nil },
		// CloudWatch stays a fake: this SDK speaks CloudWatch's CBOR
		// protocol (Smithy RPC v2), which moto_server does not serve (404).
		clients: func(cfg aws.Config) statusClients {
			cl := defaultStatusClients(cfg)
			cl.Metrics = fakeStatus{ageSecond: 600}
			return cl
		}}
	err = cmd.Run(ctx, []string{"--stack", "ddbsync-prod", "--output", "json"})
	assert.Equal(t, exitError, exitCode(&stderr, "status", err), "a message in the failure queue needs attention: %s", stderr.String())

	var rep StatusReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	require.NotNil(t, rep.Mapping)
	assert.Equal(t, "Enabled", rep.Mapping.State)
	assert.Equal(t, aws.ToString(table.TableDescription.LatestStreamArn), rep.Mapping.EventSourceARN)
	require.NotNil(t, rep.Function)
	assert.Equal(t, function, rep.Function.Name)
	assert.Equal(t, "Active", rep.Function.State)
	assert.Equal(t, "f470e46", rep.Function.Commit)
	assert.NotEmpty(t, rep.Function.CodeSHA256)
	require.NotNil(t, rep.Failures)
	assert.EqualValues(t, 1, rep.Failures.Visible)
	require.Len(t, rep.Problems, 1)
	assert.Contains(t, rep.Problems[0], "1 failed batches in the failure queue")
	assert.Contains(t, rep.Problems[0], ": ddbsync redrive --region us-east-1 --table orders --target-table orders-copy --queue-url "+queueURL, "the hint names the tables, from the mapping and the outputs")
}
