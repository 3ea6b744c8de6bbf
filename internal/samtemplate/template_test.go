package samtemplate

import (
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ddbsync/ddbsync/internal/artifact"
	"github.com/ddbsync/ddbsync/internal/codestatus"
	"github.com/ddbsync/ddbsync/internal/emf"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

const (
	templateFile = "template.yaml"
	functionID   = "ReplicatorFunction"
	eventID      = "SourceStream"
)

// The expressions the template must use for the source stream, the target
// table and the failure queue; the IAM statements must name exactly these.
const (
	streamExpr = "!If[CreateSourceTable, !GetAtt SourceTable.StreamArn, !Ref SourceStreamArn]"
	queueExpr  = "!GetAtt FailureQueue.Arn"
)

// TestTemplate_CfnLint runs cfn-lint, which expands the SAM transform and
// validates every resource against the CloudFormation schemas.
func TestTemplate_CfnLint(t *testing.T) {
	lint := testkit.NeedTool(t, "cfn-lint", "pip install cfn-lint")
	cmd := exec.CommandContext(t.Context(), lint, "--", templateFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "cfn-lint %s:\n%s", templateFile, out)
}

func function(tb testing.TB, tmpl *yaml.Node) *yaml.Node {
	tb.Helper()
	fn := field(tmpl, "Resources", functionID)
	require.NotNil(tb, fn, "Resources.%s", functionID)
	require.Equal(tb, "AWS::Serverless::Function", field(fn, "Type").Value)
	return fn
}

func TestTemplate_EventSource(t *testing.T) {
	tmpl := loadYAML(t, templateFile)
	event := field(function(t, tmpl), "Properties", "Events", eventID)
	require.NotNil(t, event, "the function's %s event", eventID)
	assert.Equal(t, "DynamoDB", field(event, "Type").Value)
	props := field(event, "Properties")

	t.Run("fixed settings", func(t *testing.T) {
		assert.Equal(t, []string{"ReportBatchItemFailures"}, scalars(field(props, "FunctionResponseTypes")),
			"partial batch failures: the handler reports SequenceNumbers")
		assert.Equal(t, "true", expr(field(props, "BisectBatchOnFunctionError")))
		assert.Equal(t, streamExpr, expr(field(props, "Stream")))
		assert.Equal(t, queueExpr, expr(field(props, "DestinationConfig", "OnFailure", "Destination")))
		assert.Equal(t, []string{"EventCount"}, scalars(field(props, "MetricsConfig", "Metrics")),
			"the mapping's own metrics: polled, filtered, failed and dropped events")
	})

	// Each setting is a parameter whose constraints keep it in a safe range.
	tests := map[string]struct {
		param    string
		min, max float64 // the parameter's MinValue and MaxValue must lie within
		def      string  // the parameter's default, when it matters
		allowed  []string
	}{
		"StartingPosition": {param: "StartingPosition", allowed: []string{"TRIM_HORIZON", "LATEST"}, def: "TRIM_HORIZON"},
		// Created disabled for a backfill from an export, enabled afterwards.
		"Enabled":                        {param: "StreamMappingEnabled", allowed: []string{"true", "false"}, def: "true"},
		"BatchSize":                      {param: "BatchSize", min: 1, max: 10000},
		"MaximumBatchingWindowInSeconds": {param: "MaximumBatchingWindowInSeconds", min: 0, max: 300},
		"ParallelizationFactor":          {param: "ParallelizationFactor", min: 1, max: 10, def: "1"},
		// 0..10000; -1 (retry until the record expires) is excluded.
		"MaximumRetryAttempts": {param: "MaximumRetryAttempts", min: 0, max: 10000},
		// -1 (no limit) is excluded, and so is anything past the stream's
		// 24 h retention: a failure message must name records still readable.
		"MaximumRecordAgeInSeconds": {param: "MaximumRecordAgeInSeconds", min: 60, max: 86400},
	}
	for prop, tt := range tests {
		t.Run(prop, func(t *testing.T) {
			require.Equal(t, "!Ref "+tt.param, expr(field(props, prop)))
			p := field(tmpl, "Parameters", tt.param)
			require.NotNil(t, p, "parameter %s", tt.param)
			if tt.def != "" {
				assert.Equal(t, tt.def, field(p, "Default").Value)
			}
			if tt.allowed != nil {
				assert.Subset(t, tt.allowed, scalars(field(p, "AllowedValues")))
				assert.NotEmpty(t, scalars(field(p, "AllowedValues")))
				return
			}
			assert.Equal(t, "Number", field(p, "Type").Value)
			lo, hi := number(t, p, "MinValue"), number(t, p, "MaxValue")
			assert.GreaterOrEqual(t, lo, tt.min, "MinValue")
			assert.LessOrEqual(t, hi, tt.max, "MaxValue")
			def := number(t, p, "Default")
			assert.True(t, def >= lo && def <= hi, "default %g in [%g, %g]", def, lo, hi)
		})
	}
}

// period returns an alarm's Period in seconds times its EvaluationPeriods:
// how long after the threshold is crossed it fires, at the latest.
func period(tb testing.TB, alarm *yaml.Node) int {
	tb.Helper()
	return int(number(tb, alarm, "Period") * number(tb, alarm, "EvaluationPeriods"))
}

// optional returns n, or the value of n = !If [Cond, value, !Ref
// AWS::NoValue]: a list element present only under a condition.
func optional(tb testing.TB, n *yaml.Node) *yaml.Node {
	tb.Helper()
	name, arg, ok := intrinsic(n)
	if !ok || name != "If" {
		return n
	}
	require.Len(tb, arg.Content, 3, "!If [Cond, value, !Ref AWS::NoValue]")
	require.Equal(tb, "!Ref AWS::NoValue", expr(arg.Content[2]))
	return arg.Content[1]
}

// number returns a numeric field of a parameter, failing if it is missing.
func number(tb testing.TB, p *yaml.Node, key string) float64 {
	tb.Helper()
	n := field(p, key)
	require.NotNil(tb, n, key)
	f, err := strconv.ParseFloat(n.Value, 64)
	require.NoError(tb, err, key)
	return f
}

func TestTemplate_FailureQueue(t *testing.T) {
	tmpl := loadYAML(t, templateFile)
	q := field(tmpl, "Resources", "FailureQueue")
	require.NotNil(t, q)
	assert.Equal(t, "AWS::SQS::Queue", field(q, "Type").Value)
	props := field(q, "Properties")
	encrypted := expr(field(props, "SqsManagedSseEnabled")) == "true" || field(props, "KmsMasterKeyId") != nil
	assert.True(t, encrypted, "SqsManagedSseEnabled or a KMS key")
	assert.Nil(t, field(props, "FifoQueue"), "a standard queue: Lambda's failure destination cannot be FIFO")
	assert.GreaterOrEqual(t, number(t, props, "MessageRetentionPeriod"), 86400.0, "longer than the stream's 24 h")
}

// wildcardAllowed lists the only statements whose resource may hold a
// "*", with the reason; the expression must be exactly this.
var wildcardAllowed = map[string]struct{ resource, why string }{
	"xray:PutTraceSegments":    {resource: "*", why: "X-Ray has no resource-level permissions"},
	"xray:PutTelemetryRecords": {resource: "*", why: "X-Ray has no resource-level permissions"},
	"dynamodb:ListStreams": {
		resource: `!Sub[${SourceTableArn}/stream/*, {SourceTableArn: !Select[0, !Split[/stream/, ` + streamExpr + `]]}]`,
		why: "ListStreams is authorized on the table's streams, <table ARN>/stream/*, not on one stream label " +
			"(DynamoDB developer guide's Lambda stream policy; SAM's DynamoDBStreamReadPolicy)",
	},
}

func TestTemplate_IAMLeastPrivilege(t *testing.T) {
	tmpl := loadYAML(t, templateFile)
	fn := field(function(t, tmpl), "Properties")

	// With no Role, SAM generates one and attaches the managed
	// AWSLambdaDynamoDBExecutionRole policy, whose Resource is "*".
	role := expr(field(fn, "Role"))
	require.True(t, strings.HasPrefix(role, "!GetAtt ") && strings.HasSuffix(role, ".Arn"), "Role is the template's own role: %s", role)
	roleID := strings.TrimSuffix(strings.TrimPrefix(role, "!GetAtt "), ".Arn")
	assert.Nil(t, field(fn, "Policies"), "no SAM policies: the role holds every permission")
	assert.Equal(t, "AWS::IAM::Role", field(tmpl, "Resources", roleID, "Type").Value)
	assert.Nil(t, field(tmpl, "Resources", roleID, "Properties", "ManagedPolicyArns"), "no managed policies")

	logGroup := expr(field(fn, "LoggingConfig", "LogGroup"))
	require.True(t, strings.HasPrefix(logGroup, "!Ref "), "LoggingConfig.LogGroup is the template's log group")
	writes := make([]string, 0, 3)
	for _, op := range dynamoCalls(t) {
		writes = append(writes, "dynamodb:"+op)
	}
	want := map[string]string{ // action → the resource it may act on
		"dynamodb:DescribeStream":   streamExpr,
		"dynamodb:GetRecords":       streamExpr,
		"dynamodb:GetShardIterator": streamExpr,
		"dynamodb:ListStreams":      wildcardAllowed["dynamodb:ListStreams"].resource,
		"sqs:SendMessage":           queueExpr,
		"logs:CreateLogStream":      "!GetAtt " + strings.TrimPrefix(logGroup, "!Ref ") + ".Arn",
		"logs:PutLogEvents":         "!GetAtt " + strings.TrimPrefix(logGroup, "!Ref ") + ".Arn",
		"xray:PutTraceSegments":     "*", // only with Tracing Active, see TestTemplate_Function
		"xray:PutTelemetryRecords":  "*",
		"sts:AssumeRole":            "!Ref TargetRoleArn", // only with TargetRoleArn set, see below
	}
	assert.Equal(t, "HasTargetRole", field(tmpl, "Resources", "AssumeTargetRolePolicy", "Condition").Value, "the role is assumable only when set")
	assert.Equal(t, `!Not[!Equals[!Ref TargetRoleArn, ]]`, expr(field(tmpl, "Conditions", "HasTargetRole")))
	const targetExpr = `!If[CreateTargetTable, !GetAtt TargetTable.Arn, !Sub[arn:${AWS::Partition}:dynamodb:${Region}:${AWS::AccountId}:table/${TargetTableName}, {Region: !If[HasTargetRegion, !Ref TargetRegion, !Ref AWS::Region]}]]`
	for _, a := range writes {
		want[a] = targetExpr
	}

	got := map[string]string{}
	ids, resources := entries(field(tmpl, "Resources"))
	for i, res := range resources {
		switch field(res, "Type").Value {
		case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy":
		default:
			continue
		}
		var docs []*yaml.Node
		if d := field(res, "Properties", "PolicyDocument"); d != nil {
			docs = append(docs, d)
		}
		if ps := field(res, "Properties", "Policies"); ps != nil {
			for _, p := range ps.Content {
				docs = append(docs, field(optional(t, p), "PolicyDocument"))
			}
		}
		for _, doc := range docs {
			for _, st := range field(doc, "Statement").Content {
				where := ids[i] + " " + expr(field(st, "Sid"))
				assert.Equal(t, "Allow", field(st, "Effect").Value, where)
				assert.Nil(t, field(st, "NotAction"), where)
				assert.Nil(t, field(st, "NotResource"), where)
				res := field(st, "Resource")
				require.NotNil(t, res, "%s names its resource", where)
				for _, action := range scalars(field(st, "Action")) {
					assert.NotContains(t, action, "*", "%s: action %s", where, action)
					got[action] = expr(res)
					if strings.Contains(expr(res), "*") {
						allowed, ok := wildcardAllowed[action]
						if assert.True(t, ok, "%s: %s has a wildcard resource %s", where, action, expr(res)) {
							assert.Equal(t, allowed.resource, expr(res), "%s: %s", action, allowed.why)
						}
					}
				}
			}
		}
	}
	assert.Equal(t, want, got, "each action on its one resource, and no other action")
}

func TestTemplate_EveryParameterUsed(t *testing.T) {
	checkEveryParameterUsed(t, loadYAML(t, templateFile))
}

// checkEveryParameterUsed checks that a template uses each of its
// parameters and refers only to names it defines.
func checkEveryParameterUsed(t *testing.T, tmpl *yaml.Node) {
	t.Helper()
	used := map[string]bool{}
	for _, section := range []string{"Conditions", "Rules", "Resources", "Outputs", "Globals"} {
		references(field(tmpl, section), used)
	}
	params, _ := entries(field(tmpl, "Parameters"))
	require.NotEmpty(t, params)
	for _, p := range params {
		assert.True(t, used[p], "parameter %s is never used", p)
	}
	resources, _ := entries(field(tmpl, "Resources"))
	conditions, _ := entries(field(tmpl, "Conditions"))
	for name := range used {
		known := contains(params, name) || contains(resources, name) || contains(conditions, name) || strings.HasPrefix(name, "AWS::")
		assert.True(t, known, "%s is referred to but not defined", name)
	}
}

// TestTemplate_MakefileBuild checks that, for each function SAM builds
// with BuildMethod makefile, the Makefile target build-<LogicalId> exists
// and builds what the function's handler and runtime need, for each
// architecture the template allows: a static linux binary named bootstrap,
// without the RPC mode (lambda.norpc) that only the go1.x runtime used.
func TestTemplate_MakefileBuild(t *testing.T) {
	for file, functions := range map[string]int{templateFile: 1, queueTemplateFile: 2} {
		t.Run(file, func(t *testing.T) { checkMakefileBuild(t, file, functions) })
	}
}

// checkMakefileBuild runs TestTemplate_MakefileBuild's checks on one
// template, which has that many functions built by the Makefile.
func checkMakefileBuild(t *testing.T, file string, functions int) {
	makeBin := testkit.NeedTool(t, "make", "apt-get install make")
	tmpl := loadYAML(t, file)
	arch := field(tmpl, "Parameters", "Architecture")
	require.NotNil(t, arch)
	allowed := scalars(field(arch, "AllowedValues"))
	assert.ElementsMatch(t, artifact.LambdaArchitectures(), allowed, "every allowed architecture has a GOARCH")

	dryRun := func(tb testing.TB, target string, vars ...string) string {
		tb.Helper()
		cmd := exec.CommandContext(tb.Context(), makeBin, append([]string{"-n", "-C", root, target, "ARTIFACTS_DIR=/artifacts"}, vars...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(tb, err, "make -n %s:\n%s", target, out)
		return string(out)
	}
	ids, resources := entries(field(tmpl, "Resources"))
	built := 0
	for i, res := range resources {
		if field(res, "Type").Value != "AWS::Serverless::Function" || expr(field(res, "Metadata", "BuildMethod")) != "makefile" {
			continue
		}
		built++
		t.Run(ids[i], func(t *testing.T) {
			props := field(res, "Properties")
			assert.Equal(t, ".", expr(field(props, "CodeUri")), "the Makefile is at the repository root")
			assert.Equal(t, "provided.al2023", expr(field(props, "Runtime")))
			assert.Equal(t, artifact.Bootstrap, expr(field(props, "Handler")), "provided runtimes run bootstrap")
			assert.Equal(t, "[!Ref Architecture]", expr(field(props, "Architectures")))
			target := "build-" + ids[i]
			if file == templateFile {
				assert.Equal(t, artifact.Target, target)
			}

			defaultGOARCH, err := artifact.GoArch(field(arch, "Default").Value)
			require.NoError(t, err)
			assert.Contains(t, dryRun(t, target), "GOARCH="+defaultGOARCH+" ",
				"a plain sam build builds for the template's default architecture")
			for _, a := range allowed {
				goarch, err := artifact.GoArch(a)
				require.NoError(t, err)
				cmd := dryRun(t, target, "ARCH="+goarch)
				for _, want := range []string{
					"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch + " ", "-tags lambda.norpc", "-trimpath",
					"-buildvcs=false", "-buildid=", "-o /artifacts/" + artifact.Bootstrap, "./cmd/replicator",
				} {
					assert.Contains(t, cmd, want, "ARCH=%s", goarch)
				}
			}
		})
	}
	assert.Equal(t, functions, built, "functions built by the Makefile")
}

func TestTemplate_Function(t *testing.T) {
	tmpl := loadYAML(t, templateFile)
	props := field(function(t, tmpl), "Properties")

	t.Run("JSON logs", func(t *testing.T) {
		assert.Equal(t, "JSON", expr(field(props, "LoggingConfig", "LogFormat")))
	})
	t.Run("log level", func(t *testing.T) {
		assert.Equal(t, "!Ref LogLevel", expr(field(props, "LoggingConfig", "ApplicationLogLevel")))
		p := field(tmpl, "Parameters", "LogLevel")
		require.NotNil(t, p)
		assert.Equal(t, "INFO", field(p, "Default").Value)
		// Lambda files a JSON line without "level" as INFO: the EMF metric
		// lines. A WARN filter would drop them, and the alarms on them.
		assert.Subset(t, []string{"TRACE", "DEBUG", "INFO"}, scalars(field(p, "AllowedValues")))
		assert.Contains(t, scalars(field(p, "AllowedValues")), "DEBUG")
	})
	t.Run("tracing", func(t *testing.T) {
		assert.Equal(t, "!If[HasTracing, Active, !Ref AWS::NoValue]", expr(field(props, "Tracing")))
		assert.Equal(t, "!Equals[!Ref Tracing, Active]", expr(field(tmpl, "Conditions", "HasTracing")))
		assert.Equal(t, "Disabled", field(tmpl, "Parameters", "Tracing", "Default").Value)
		// With an explicit role, SAM adds no X-Ray policy: the role's own
		// policy, present exactly when tracing is on.
		var xray []string
		for _, p := range field(tmpl, "Resources", "ReplicatorRole", "Properties", "Policies").Content {
			if name, arg, ok := intrinsic(p); ok && name == "If" {
				require.Len(t, arg.Content, 3)
				assert.Equal(t, "HasTracing", arg.Content[0].Value)
				assert.Equal(t, "!Ref AWS::NoValue", expr(arg.Content[2]))
				for _, st := range field(arg.Content[1], "PolicyDocument", "Statement").Content {
					xray = append(xray, scalars(field(st, "Action"))...)
				}
			}
		}
		assert.ElementsMatch(t, []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, xray)
	})
	t.Run("reserved concurrency", func(t *testing.T) {
		assert.Equal(t, "!If[HasReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue]", expr(field(props, "ReservedConcurrentExecutions")))
		assert.Equal(t, "!Not[!Equals[!Ref ReservedConcurrency, 0]]", expr(field(tmpl, "Conditions", "HasReservedConcurrency")))
		assert.Equal(t, "0", field(tmpl, "Parameters", "ReservedConcurrency", "Default").Value, "0: none reserved (0 reserved would stop it)")
	})
	t.Run("environment", func(t *testing.T) {
		read := envVarsRead(t)
		notRead := map[string]string{ // set but not read by the function, and why
			codestatus.CommitVar: "the commit stamp, read by ddbsync code-status through GetFunction",
		}
		vars, values := entries(field(props, "Environment", "Variables"))
		require.Contains(t, vars, "TARGET_TABLE_NAME")
		for i, v := range vars {
			if _, ok := notRead[v]; ok {
				continue
			}
			if _, ok := sdkEnvVars[v]; ok {
				continue
			}
			assert.True(t, read[v], "%s=%s is not read by configFromEnv (misspelled?)", v, expr(values[i]))
		}
		assert.Equal(t, "!If[CreateTargetTable, !Ref TargetTable, !Ref TargetTableName]", expr(field(props, "Environment", "Variables", "TARGET_TABLE_NAME")))
		assert.Equal(t, "!If[HasTargetRegion, !Ref TargetRegion, !Ref AWS::Region]", expr(field(props, "Environment", "Variables", "TARGET_REGION")))
	})
	t.Run("commit stamp", func(t *testing.T) {
		assert.Equal(t, codestatus.UnknownCommit, field(tmpl, "Parameters", "CommitSha", "Default").Value)
		assert.Equal(t, "!Ref CommitSha", expr(field(props, "Environment", "Variables", codestatus.CommitVar)))
		desc := expr(field(props, "Description"))
		assert.Contains(t, desc, "commit ${CommitSha}", "code-status also reads the commit from the description")
	})
	t.Run("demo tables", func(t *testing.T) {
		for cond, want := range map[string]string{
			"CreateSourceTable": `!Equals[!Ref SourceStreamArn, ]`,
			"CreateTargetTable": `!Equals[!Ref TargetTableName, ]`,
		} {
			assert.Equal(t, want, expr(field(tmpl, "Conditions", cond)))
		}
		src := field(tmpl, "Resources", "SourceTable")
		assert.Equal(t, "CreateSourceTable", field(src, "Condition").Value)
		assert.Contains(t, []string{"NEW_IMAGE", "NEW_AND_OLD_IMAGES"}, expr(field(src, "Properties", "StreamSpecification", "StreamViewType")),
			"INSERT and MODIFY need the new image")
		assert.Equal(t, "CreateTargetTable", field(tmpl, "Resources", "TargetTable", "Condition").Value)
	})
}

func TestTemplate_Operations(t *testing.T) {
	tmpl := loadYAML(t, templateFile)
	ids, resources := entries(field(tmpl, "Resources"))

	t.Run("alarms", func(t *testing.T) {
		want := map[string]string{ // namespace/metric → dimension it watches
			"AWS/Lambda/IteratorAge":                     "{Name: FunctionName, Value: !Ref " + functionID + "}",
			"AWS/Lambda/Errors":                          "{Name: FunctionName, Value: !Ref " + functionID + "}",
			"AWS/SQS/ApproximateNumberOfMessagesVisible": "{Name: QueueName, Value: !GetAtt FailureQueue.QueueName}",
			"AWS/SQS/ApproximateAgeOfOldestMessage":      "{Name: QueueName, Value: !GetAtt FailureQueue.QueueName}",
			emf.Namespace + "/RecordsFailed":             "{Name: TargetTable, Value: !If[CreateTargetTable, !Ref TargetTable, !Ref TargetTableName]}",
		}
		got := map[string]string{}
		for i, res := range resources {
			if field(res, "Type").Value != "AWS::CloudWatch::Alarm" {
				continue
			}
			p := field(res, "Properties")
			got[field(p, "Namespace").Value+"/"+field(p, "MetricName").Value] = strings.Trim(expr(field(p, "Dimensions")), "[]")
			assert.Equal(t, "!If[HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]", expr(field(p, "AlarmActions")), ids[i])
		}
		assert.Equal(t, want, got)
		topic := field(tmpl, "Resources", "AlarmTopic")
		assert.Equal(t, "HasAlarmEmail", field(topic, "Condition").Value)
		assert.Equal(t, "[{Protocol: email, Endpoint: !Ref AlarmEmail}]", expr(field(topic, "Properties", "Subscription")))
	})
	t.Run("failure queue age alarm before the stream expires", func(t *testing.T) {
		age := field(tmpl, "Resources", "FailureQueueAgeAlarm", "Properties")
		require.NotNil(t, age, "FailureQueueAgeAlarm")
		assert.Equal(t, "!Ref FailureQueueAgeAlarmSeconds", expr(field(age, "Threshold")))
		p := field(tmpl, "Parameters", "FailureQueueAgeAlarmSeconds")
		recordAge := number(t, field(tmpl, "Parameters", "MaximumRecordAgeInSeconds"), "Default")
		// A record reaches the queue at most MaximumRecordAgeInSeconds after
		// it was written, and leaves the stream 24 h after: the alarm must
		// leave at least half a day to redrive.
		assert.LessOrEqual(t, number(t, p, "Default")+recordAge+float64(period(t, age)), 12*3600.0)
		assert.LessOrEqual(t, number(t, p, "MaxValue"), 12*3600.0)
	})
	t.Run("dashboard", func(t *testing.T) {
		var body string
		for _, res := range resources {
			if field(res, "Type").Value == "AWS::CloudWatch::Dashboard" {
				body = field(res, "Properties", "DashboardBody").Content[0].Value
			}
		}
		require.NotEmpty(t, body, "a dashboard with a !Sub body")
		metrics := emfMetrics(t)
		sort.Strings(metrics)
		for _, m := range metrics {
			assert.Contains(t, body, `["`+emf.Namespace+`", "`+m+`", "TargetTable", "${Table}"]`, "EMF metric %s", m)
		}
		assert.Contains(t, body, `["AWS/Lambda", "IteratorAge", "FunctionName", "${Function}"]`)
	})
	t.Run("outputs", func(t *testing.T) {
		for name, want := range map[string]string{
			"FunctionArn":     "!GetAtt " + functionID + ".Arn",
			"FailureQueueUrl": "!Ref FailureQueue",
		} {
			assert.Equal(t, want, expr(field(tmpl, "Outputs", name, "Value")), name)
		}
		assert.Contains(t, expr(field(tmpl, "Outputs", "DashboardUrl", "Value")), "#dashboards:name=${ReplicatorDashboard}")
	})
}
