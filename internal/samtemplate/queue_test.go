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
	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replattr"
)

// queueTemplateFile is the optional message-queue topology (issue 5).
const queueTemplateFile = "template-queue.yaml"

func TestQueueTemplate_CfnLint(t *testing.T) {
	lint := testkit.NeedTool(t, "cfn-lint", "pip install cfn-lint")
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
			_, sdk := sdkEnvVars[v]
			assert.True(t, read[v] || sdk || v == codestatus.CommitVar, "%s: %s is not read by configFromEnv", fn, v)
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
			for _, st := range field(optional(t, p), "PolicyDocument", "Statement").Content {
				where := ids[i] + " " + expr(field(st, "Sid"))
				assert.Equal(t, "Allow", field(st, "Effect").Value, where)
				resource := expr(field(st, "Resource"))
				require.NotEmpty(t, resource, where)
				for _, action := range scalars(field(st, "Action")) {
					got[ids[i]] = append(got[ids[i]], action)
					assert.NotContains(t, action, "*", where)
					if strings.Contains(resource, "*") {
						_, ok := wildcardAllowed[action]
						assert.True(t, ok, "%s: %s has a wildcard resource %s", where, action, resource)
					}
				}
			}
		}
	}
	assert.Equal(t, map[string][]string{
		"PublisherRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
			"sns:Publish", "sqs:SendMessage", "logs:CreateLogStream", "logs:PutLogEvents",
			"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, // with Tracing Active only
		"ApplyRole": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "dynamodb:PutItem",
			"dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents",
			"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
	}, got, "the actions the two functions need, no more")
}

// directOnly lists the parameters of template.yaml that template-queue.yaml
// does not have, and why; every other one it has, with the same type,
// default and constraints.
var directOnly = map[string]string{
	"StreamMappingEnabled": "the backfill from an export (docs/export-backfill.md) hands over to the direct path's " +
		"mapping; the queue path's loads are not written with its sequence attributes",
}

// queueOnly lists the parameters only template-queue.yaml has.
var queueOnly = []string{
	"SeqAttribute", "TombstoneAttribute", "TombstoneTTLAttribute", "TombstoneRetention",
	"QueueVisibilityTimeout", "MaxReceiveCount", "ApplyMaximumConcurrency", "DeadLetterAgeAlarmSeconds",
}

// TestQueueTemplate_ParameterParity: both topologies take the same
// settings, so that a stack can move from one to the other.
func TestQueueTemplate_ParameterParity(t *testing.T) {
	direct, queue := loadYAML(t, templateFile), loadYAML(t, queueTemplateFile)
	names, params := entries(field(direct, "Parameters"))
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			q := field(queue, "Parameters", name)
			if why, ok := directOnly[name]; ok {
				assert.Nil(t, q, "%s: not in the queue template: %s", name, why)
				return
			}
			require.NotNil(t, q, "%s is missing from %s", name, queueTemplateFile)
			for _, key := range []string{"Type", "AllowedValues", "MinValue", "MaxValue"} {
				assert.Equal(t, expr(field(params[i], key)), expr(field(q, key)), "%s.%s", name, key)
			}
			switch name {
			case "SourceStreamArn", "TargetTableName":
				// Required in the queue template: it creates no demo tables.
				assert.Nil(t, field(q, "Default"), "%s is required", name)
			default:
				assert.Equal(t, expr(field(params[i], "Default")), expr(field(q, "Default")), "%s.Default", name)
			}
		})
	}
	qnames, _ := entries(field(queue, "Parameters"))
	for _, name := range qnames {
		if field(direct, "Parameters", name) == nil {
			assert.Contains(t, queueOnly, name, "%s is only in %s: add it to template.yaml or to queueOnly", name, queueTemplateFile)
		}
	}
	checkEveryParameterUsed(t, queue)
}

// TestQueueTemplate_Functions checks what both functions share with the
// direct path's: memory, JSON logs at LogLevel, optional tracing, the
// mapping metrics, logs kept LogRetentionInDays.
func TestQueueTemplate_Functions(t *testing.T) {
	tmpl := loadYAML(t, queueTemplateFile)
	for fn, event := range map[string]string{"PublisherFunction": "SourceStream", "ApplyFunction": "ApplyQueue"} {
		t.Run(fn, func(t *testing.T) {
			props := field(tmpl, "Resources", fn, "Properties")
			require.NotNil(t, props)
			assert.Equal(t, "!Ref MemorySize", expr(field(props, "MemorySize")))
			assert.Equal(t, "JSON", expr(field(props, "LoggingConfig", "LogFormat")))
			assert.Equal(t, "!Ref LogLevel", expr(field(props, "LoggingConfig", "ApplicationLogLevel")))
			assert.Equal(t, "!If[HasTracing, Active, !Ref AWS::NoValue]", expr(field(props, "Tracing")))
			assert.Equal(t, []string{"EventCount"}, scalars(field(props, "Events", event, "Properties", "MetricsConfig", "Metrics")))
			logGroup := strings.TrimPrefix(expr(field(props, "LoggingConfig", "LogGroup")), "!Ref ")
			assert.Equal(t, "!Ref LogRetentionInDays", expr(field(tmpl, "Resources", logGroup, "Properties", "RetentionInDays")))
		})
	}
	stream := field(tmpl, "Resources", "PublisherFunction", "Properties", "Events", "SourceStream", "Properties")
	for _, p := range []string{"StartingPosition", "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
		"MaximumRetryAttempts", "MaximumRecordAgeInSeconds"} {
		assert.Equal(t, "!Ref "+p, expr(field(stream, p)), p)
	}
	assert.Equal(t, "!If[HasReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue]",
		expr(field(tmpl, "Resources", "PublisherFunction", "Properties", "ReservedConcurrentExecutions")))
	// Reserved concurrency on an SQS consumer throttles batches, which then
	// count as receives towards the DLQ: the mapping's own limit instead.
	assert.Nil(t, field(tmpl, "Resources", "ApplyFunction", "Properties", "ReservedConcurrentExecutions"))
	assert.Equal(t, "!If[HasApplyMaximumConcurrency, {MaximumConcurrency: !Ref ApplyMaximumConcurrency}, !Ref AWS::NoValue]",
		expr(field(tmpl, "Resources", "ApplyFunction", "Properties", "Events", "ApplyQueue", "Properties", "ScalingConfig")))
}

// TestQueueTemplate_Operations checks the alarms, the dashboard (every
// metric internal/queue writes, with its dimension) and the outputs.
func TestQueueTemplate_Operations(t *testing.T) {
	tmpl := loadYAML(t, queueTemplateFile)
	ids, resources := entries(field(tmpl, "Resources"))
	t.Run("alarms", func(t *testing.T) {
		want := map[string]string{ // alarm → namespace/metric dimension=value
			"PublisherIteratorAgeAlarm":  "AWS/Lambda/IteratorAge FunctionName=!Ref PublisherFunction",
			"PublisherErrorsAlarm":       "AWS/Lambda/Errors FunctionName=!Ref PublisherFunction",
			"PublishFailuresAlarm":       emf.Namespace + "/RecordsFailed " + queue.DimensionTopic + "=!GetAtt ChangesTopic.TopicName",
			"StreamFailureQueueAlarm":    "AWS/SQS/ApproximateNumberOfMessagesVisible QueueName=!GetAtt StreamFailureQueue.QueueName",
			"StreamFailureQueueAgeAlarm": "AWS/SQS/ApproximateAgeOfOldestMessage QueueName=!GetAtt StreamFailureQueue.QueueName",
			"ApplyErrorsAlarm":           "AWS/Lambda/Errors FunctionName=!Ref ApplyFunction",
			"ApplyFailuresAlarm":         emf.Namespace + "/MessagesFailed " + queue.DimensionTargetTable + "=!Ref TargetTableName",
			"DeadLetterQueueAlarm":       "AWS/SQS/ApproximateNumberOfMessagesVisible QueueName=!GetAtt ApplyDeadLetterQueue.QueueName",
			"DeadLetterQueueAgeAlarm":    "AWS/SQS/ApproximateAgeOfOldestMessage QueueName=!GetAtt ApplyDeadLetterQueue.QueueName",
		}
		got := map[string]string{}
		for i, res := range resources {
			if field(res, "Type").Value != "AWS::CloudWatch::Alarm" {
				continue
			}
			p := field(res, "Properties")
			dims := field(p, "Dimensions")
			require.Len(t, dims.Content, 1, ids[i])
			got[ids[i]] = field(p, "Namespace").Value + "/" + field(p, "MetricName").Value + " " +
				field(dims.Content[0], "Name").Value + "=" + expr(field(dims.Content[0], "Value"))
			assert.Equal(t, "!If[HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]", expr(field(p, "AlarmActions")), ids[i])
		}
		assert.Equal(t, want, got)
		age := field(tmpl, "Resources", "StreamFailureQueueAgeAlarm", "Properties")
		recordAge := number(t, field(tmpl, "Parameters", "MaximumRecordAgeInSeconds"), "Default")
		assert.LessOrEqual(t, number(t, field(tmpl, "Parameters", "FailureQueueAgeAlarmSeconds"), "Default")+recordAge+float64(period(t, age)), 12*3600.0,
			"half a day left to redrive before the stream drops the records")
		dlq := number(t, field(tmpl, "Resources", "ApplyDeadLetterQueue", "Properties"), "MessageRetentionPeriod")
		assert.Less(t, number(t, field(tmpl, "Parameters", "DeadLetterAgeAlarmSeconds"), "MaxValue"), dlq, "alarm before SQS deletes the message")
		assert.Equal(t, "HasAlarmEmail", field(tmpl, "Resources", "AlarmTopic", "Condition").Value)
	})
	t.Run("dashboard", func(t *testing.T) {
		body := field(tmpl, "Resources", "QueueDashboard", "Properties", "DashboardBody").Content[0].Value
		for dim, metrics := range map[string][]emf.Metric{
			queue.DimensionTopic + `", "${Topic}"]`:       queue.PublishResult{}.Metrics(time.Now()),
			queue.DimensionTargetTable + `", "${Table}"]`: queue.ApplyResult{}.Metrics(time.Now()),
		} {
			for _, m := range metrics {
				assert.Contains(t, body, `["`+emf.Namespace+`", "`+m.Name+`", "`+dim, "EMF metric %s", m.Name)
			}
		}
		assert.Contains(t, body, `["AWS/Lambda", "IteratorAge", "FunctionName", "${Publisher}"]`)
		assert.Equal(t, "!GetAtt ChangesTopic.TopicName", expr(field(tmpl, "Resources", "QueueDashboard", "Properties", "DashboardBody").Content[1].Content[1]))
	})
	t.Run("outputs", func(t *testing.T) {
		for name, want := range map[string]string{
			"PublisherFunctionArn": "!GetAtt PublisherFunction.Arn",
			"ApplyFunctionArn":     "!GetAtt ApplyFunction.Arn",
			"DeadLetterQueueUrl":   "!Ref ApplyDeadLetterQueue",
		} {
			assert.Equal(t, want, expr(field(tmpl, "Outputs", name, "Value")), name)
		}
		assert.Contains(t, expr(field(tmpl, "Outputs", "DashboardUrl", "Value")), "#dashboards:name=${QueueDashboard}")
	})
}
