package samtemplate

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ddbsync/ddbsync/internal/codestatus"
	"github.com/ddbsync/ddbsync/internal/replattr"
)

// queueTemplateFile is the optional message-queue topology (issue 5).
const queueTemplateFile = "template-queue.yaml"

func TestQueueTemplate_CfnLint(t *testing.T) {
	lint := needTool(t, "cfn-lint", "pip install cfn-lint")
	cmd := exec.CommandContext(t.Context(), lint, "--", queueTemplateFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "cfn-lint %s:\n%s", queueTemplateFile, out)
}

// TestQueueTemplate_Topology checks what order and partial failures rest
// on: FIFO topic and queue, raw delivery, a dead-letter queue, and both
// event sources reporting batch item failures.
func TestQueueTemplate_Topology(t *testing.T) {
	tmpl := loadYAML(t, queueTemplateFile)
	res := func(id string) *yaml.Node {
		n := field(tmpl, "Resources", id)
		require.NotNil(t, n, id)
		return n
	}
	assert.Equal(t, "true", expr(field(res("ChangesTopic"), "Properties", "FifoTopic")))
	assert.True(t, strings.HasSuffix(expr(field(res("ChangesTopic"), "Properties", "TopicName")), ".fifo"))
	queue := field(res("ApplyQueue"), "Properties")
	assert.Equal(t, "true", expr(field(queue, "FifoQueue")))
	assert.Equal(t, "!GetAtt ApplyDeadLetterQueue.Arn", expr(field(queue, "RedrivePolicy", "deadLetterTargetArn")))
	assert.Equal(t, "true", expr(field(res("ApplyDeadLetterQueue"), "Properties", "FifoQueue")), "a FIFO queue's DLQ is FIFO")
	sub := field(res("ApplySubscription"), "Properties")
	assert.Equal(t, "true", expr(field(sub, "RawMessageDelivery")), "the body must be the envelope")
	assert.Equal(t, "!GetAtt ApplyQueue.Arn", expr(field(sub, "Endpoint")))

	stream := field(res("PublisherFunction"), "Properties", "Events", "SourceStream")
	assert.Equal(t, "DynamoDB", field(stream, "Type").Value)
	assert.Equal(t, []string{"ReportBatchItemFailures"}, scalars(field(stream, "Properties", "FunctionResponseTypes")))
	sqsEvent := field(res("ApplyFunction"), "Properties", "Events", "ApplyQueue")
	assert.Equal(t, "SQS", field(sqsEvent, "Type").Value)
	assert.Equal(t, []string{"ReportBatchItemFailures"}, scalars(field(sqsEvent, "Properties", "FunctionResponseTypes")))
	assert.Equal(t, "10", expr(field(sqsEvent, "Properties", "BatchSize")), "the FIFO maximum")

	// Deletes leave tombstones: the guard's names and retention reach the
	// apply function, and the retention outlasts the dead-letter queue.
	applyEnv := field(res("ApplyFunction"), "Properties", "Environment", "Variables")
	for v, param := range map[string]string{"SEQ_ATTRIBUTE": "SeqAttribute", "TOMBSTONE_ATTRIBUTE": "TombstoneAttribute",
		"TOMBSTONE_TTL_ATTRIBUTE": "TombstoneTTLAttribute", "TOMBSTONE_RETENTION": "TombstoneRetention"} {
		assert.Equal(t, "!Ref "+param, expr(field(applyEnv, v)), v)
	}
	params := func(name string) string { return expr(field(tmpl, "Parameters", name, "Default")) }
	assert.Equal(t, replattr.DefaultSeq, params("SeqAttribute"))
	assert.Equal(t, replattr.DefaultDeleted, params("TombstoneAttribute"))
	assert.Equal(t, replattr.DefaultExpires, params("TombstoneTTLAttribute"))
	assert.Equal(t, "15d", params("TombstoneRetention"))
	dlqSeconds, err := strconv.Atoi(expr(field(res("ApplyDeadLetterQueue"), "Properties", "MessageRetentionPeriod")))
	require.NoError(t, err)
	assert.LessOrEqual(t, time.Duration(dlqSeconds)*time.Second+24*time.Hour, 15*24*time.Hour,
		"the default tombstone retention covers the DLQ's retention plus a day of stream retries")

	read := envVarsRead(t)
	for _, fn := range []string{"PublisherFunction", "ApplyFunction"} {
		vars, _ := entries(field(res(fn), "Properties", "Environment", "Variables"))
		for _, v := range vars {
			assert.True(t, read[v] || v == codestatus.CommitVar, "%s: %s is not read by configFromEnv", fn, v)
		}
	}
}

// TestQueueTemplate_IAMLeastPrivilege checks that every statement names its
// resource, with no wildcard action and only the ListStreams wildcard.
func TestQueueTemplate_IAMLeastPrivilege(t *testing.T) {
	tmpl := loadYAML(t, queueTemplateFile)
	ids, resources := entries(field(tmpl, "Resources"))
	got := map[string][]string{}
	for i, res := range resources {
		if field(res, "Type").Value != "AWS::IAM::Role" {
			continue
		}
		for _, p := range field(res, "Properties", "Policies").Content {
			for _, st := range field(p, "PolicyDocument", "Statement").Content {
				where := ids[i] + " " + expr(field(st, "Sid"))
				assert.Equal(t, "Allow", field(st, "Effect").Value, where)
				resource := expr(field(st, "Resource"))
				require.NotEmpty(t, resource, where)
				for _, action := range scalars(field(st, "Action")) {
					got[ids[i]] = append(got[ids[i]], action)
					assert.NotContains(t, action, "*", where)
					if strings.Contains(resource, "*") {
						assert.Equal(t, "dynamodb:ListStreams", action, "%s: wildcard resource %s", where, resource)
					}
				}
			}
		}
	}
	assert.Equal(t, map[string][]string{
		"PublisherRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
			"sns:Publish", "sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents"},
		"ApplyRole": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "dynamodb:PutItem",
			"dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents"},
	}, got, "the actions the two functions need, no more")
}
