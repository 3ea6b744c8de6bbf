package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/emf"
)

// Status settings.
const (
	// statusWindow is how far back the metrics are read.
	statusWindow = 15 * time.Minute
	// streamRetention is how long DynamoDB keeps stream records: a failed
	// batch must be redriven before its records expire.
	streamRetention = 24 * time.Hour
)

// errStackDrift is returned by status when replication needs attention.
var errStackDrift = errors.New("replication needs attention")

// The AWS calls of status, each interface the methods it uses.
type (
	statusStacks interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
		ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
	}
	statusLambda interface {
		GetEventSourceMapping(context.Context, *lambda.GetEventSourceMappingInput, ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error)
		GetFunctionConfiguration(context.Context, *lambda.GetFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	}
	statusMetrics interface {
		GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	}
	statusQueues interface {
		GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
)

// statusClients are the clients of one region.
type statusClients struct {
	Stacks  statusStacks
	Lambda  statusLambda
	Metrics statusMetrics
	Queues  statusQueues
}

// StatusCommand is `ddbsync status --stack NAME`.
type StatusCommand struct {
	Stdout, Stderr io.Writer

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
	// clients replaces the SDK clients (tests).
	clients func(aws.Config) statusClients
	// now replaces time.Now (tests).
	now func() time.Time
}

var statusHelp = `Usage: ddbsync status --stack NAME [flags]

Shows how replication of a deployed stack is doing, from its CloudFormation
resources and outputs:
  mapping   the event source mapping's state and last processing result
            (lambda:GetEventSourceMapping)
  function  the replicator's state, last update status, code SHA-256 and
            version stamp (lambda:GetFunctionConfiguration)
  metrics   the highest IteratorAge of the last 15 minutes (AWS/Lambda) and
            the newest ReplicationLagMs the replicator wrote (ddbsync)
            (cloudwatch:GetMetricData)
  failures  the failure queue's depth (sqs:GetQueueAttributes) and the age of
            its oldest message (AWS/SQS ApproximateAgeOfOldestMessage): a
            failed batch can be redriven only while its stream records are
            kept, 24 hours, so the deadline is shown
ddbsync code-status compares the deployed code with a build of this commit.

--output json prints one JSON object, its keys in a fixed order.

` + exitStatusHelp("replication needs attention: the mapping is not Enabled, its last result\n       is not OK, or the failure queue has messages") + `
Examples:
  ddbsync status --stack ddbsync-prod --region us-east-1
  ddbsync status --stack ddbsync-prod --output json
`

// StatusReport is the result of status; with --output json its field
// order is the key order.
type StatusReport struct {
	Stack   string        `json:"stack"`
	Region  string        `json:"region"`
	Mapping *MappingState `json:"mapping"`
	// Function is the replicator (or, on the queue path, the publisher).
	Function *FunctionState `json:"function"`
	Metrics  MetricsState   `json:"metrics"`
	Failures *QueueState    `json:"failures"`
	Healthy  bool           `json:"healthy"`
	Problems []string       `json:"problems"`
}

// MappingState is the event source mapping.
type MappingState struct {
	UUID             string `json:"uuid"`
	State            string `json:"state"`
	LastResult       string `json:"last_result"`
	StateReason      string `json:"state_reason,omitempty"`
	EventSourceARN   string `json:"event_source_arn"`
	LastModifiedUnix int64  `json:"last_modified_unix,omitempty"`
}

// FunctionState is the deployed function.
type FunctionState struct {
	Name             string `json:"name"`
	State            string `json:"state"`
	LastUpdateStatus string `json:"last_update_status"`
	CodeSHA256       string `json:"code_sha256"`
	Version          string `json:"version,omitempty"`
	Commit           string `json:"commit,omitempty"`
}

// MetricsState holds the newest metric values; nil is no data point.
type MetricsState struct {
	IteratorAgeMaxMS    *float64 `json:"iterator_age_max_ms"`
	ReplicationLagMS    *float64 `json:"replication_lag_ms"`
	ReplicationLagAtUTC string   `json:"replication_lag_at,omitempty"`
}

// QueueState is the failure queue.
type QueueState struct {
	URL              string   `json:"url"`
	Visible          int64    `json:"visible"`
	InFlight         int64    `json:"in_flight"`
	OldestAgeSeconds *float64 `json:"oldest_age_seconds"`
	RedriveBeforeUTC string   `json:"redrive_before,omitempty"`
}

// command returns `ddbsync status` bound to the global flags g.
func (c *StatusCommand) command(g *globalFlags) *cobra.Command {
	var stack string
	cmd := &cobra.Command{
		Use:         "status",
		Short:       "show a deployed stack's replication",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: statusHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stack == "" {
				return &usageError{err: &FlagError{Flag: "stack", Err: errors.New("is required: the CloudFormation stack that sam deploy made")}, hint: "ddbsync status --help"}
			}
			return c.run(cmd.Context(), g, stack)
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "", "`NAME` of the CloudFormation stack (required)")
	return cmd
}

// Run parses args and prints the stack's status.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	return runOne(ctx, c.Stdout, c.Stderr, c.command, args)
}

func (c *StatusCommand) run(ctx context.Context, g *globalFlags, stack string) error {
	cfg, err := loadConfig(ctx, c.awsConfig, g.Region, g.Profile)
	if err != nil {
		return err
	}
	clients := c.clients
	if clients == nil {
		clients = defaultStatusClients
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	hint := tableFlags{Profile: g.Profile, Endpoint: g.Endpoint, Region: cfg.Region}
	rep, err := readStatus(ctx, clients(cfg), stack, hint, now())
	if err != nil {
		return err
	}
	if g.Output != outputText {
		err = writeJSON(c.Stdout, rep)
	} else {
		err = rep.print(c.Stdout)
	}
	if err != nil {
		return err
	}
	if !rep.Healthy {
		return fmt.Errorf("%w: %s", errStackDrift, strings.Join(rep.Problems, "; "))
	}
	return nil
}

func defaultStatusClients(cfg aws.Config) statusClients {
	return statusClients{
		Stacks: cloudformation.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg),
		Metrics: cloudwatch.NewFromConfig(cfg), Queues: sqs.NewFromConfig(cfg),
	}
}

// readStatus reads the stack's resources, then each part's state.
// flags are the user's, for the hints.
func readStatus(ctx context.Context, cl statusClients, stack string, flags tableFlags, now time.Time) (StatusReport, error) {
	rep := StatusReport{Stack: stack, Region: flags.Region, Problems: []string{}}
	res, outputs, err := stackResources(ctx, cl.Stacks, stack)
	if err != nil {
		return rep, err
	}
	if id := res["AWS::Lambda::EventSourceMapping"]; id != "" {
		m, err := cl.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(id)})
		if err != nil {
			return rep, fmt.Errorf("get event source mapping %s of stack %s: %w", id, stack, err)
		}
		rep.Mapping = &MappingState{UUID: id, State: aws.ToString(m.State), LastResult: aws.ToString(m.LastProcessingResult),
			StateReason: aws.ToString(m.StateTransitionReason), EventSourceARN: aws.ToString(m.EventSourceArn)}
		if m.LastModified != nil {
			rep.Mapping.LastModifiedUnix = m.LastModified.Unix()
		}
	}
	fn := res["AWS::Lambda::Function"]
	if fn != "" {
		f, err := cl.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
		if err != nil {
			return rep, fmt.Errorf("get function %s of stack %s: %w", fn, stack, err)
		}
		rep.Function = &FunctionState{Name: fn, State: string(f.State), LastUpdateStatus: string(f.LastUpdateStatus), CodeSHA256: aws.ToString(f.CodeSha256)}
		if f.Environment != nil {
			rep.Function.Version = f.Environment.Variables["DDBSYNC_VERSION"]
			rep.Function.Commit = f.Environment.Variables["DDBSYNC_COMMIT"]
		}
	}
	queueURL := outputs["FailureQueueUrl"]
	if queueURL == "" {
		queueURL = res["AWS::SQS::Queue"]
	}
	queries := metricQueries(fn, outputs["TargetTableName"], queueName(queueURL), now)
	values, err := latestMetrics(ctx, cl.Metrics, queries, now)
	if err != nil {
		return rep, err
	}
	rep.Metrics.IteratorAgeMaxMS = values["iteratorAge"].value
	rep.Metrics.ReplicationLagMS = values["lag"].value
	if v := values["lag"]; v.value != nil {
		rep.Metrics.ReplicationLagAtUTC = v.at.UTC().Format(time.RFC3339)
	}
	if queueURL != "" {
		q, err := queueState(ctx, cl.Queues, queueURL)
		if err != nil {
			return rep, err
		}
		q.OldestAgeSeconds = values["oldest"].value
		if q.OldestAgeSeconds != nil && q.Visible+q.InFlight > 0 {
			q.RedriveBeforeUTC = now.Add(streamRetention - time.Duration(*q.OldestAgeSeconds)*time.Second).UTC().Format(time.RFC3339)
		}
		rep.Failures = &q
	}
	rep.Problems = problems(rep, flags, outputs["TargetTableName"])
	rep.Healthy = len(rep.Problems) == 0
	return rep, nil
}

// stackResources returns the physical ID of the first resource of each
// type in the stack, and the stack's outputs.
func stackResources(ctx context.Context, api statusStacks, stack string) (map[string]string, map[string]string, error) {
	d, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	outputs := map[string]string{}
	for _, s := range d.Stacks {
		for _, o := range s.Outputs {
			outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	res := map[string]string{}
	in := &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)}
	for {
		out, err := api.ListStackResources(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("list resources of stack %s: %w", stack, err)
		}
		for _, r := range out.StackResourceSummaries {
			t := aws.ToString(r.ResourceType)
			if _, seen := res[t]; !seen {
				res[t] = aws.ToString(r.PhysicalResourceId)
			}
		}
		if out.NextToken == nil {
			return res, outputs, nil
		}
		in.NextToken = out.NextToken
	}
}

// queueName is the last path element of an SQS queue URL.
func queueName(url string) string {
	if i := strings.LastIndex(url, "/"); i >= 0 {
		return url[i+1:]
	}
	return url
}

// metricQueries asks for the metrics of status, those whose resource is
// known.
func metricQueries(function, target, queue string, now time.Time) []cwtypes.MetricDataQuery {
	var qs []cwtypes.MetricDataQuery
	add := func(id, ns, name, stat, dim, value string) {
		if value == "" && dim != "" {
			return
		}
		var dims []cwtypes.Dimension
		if dim != "" {
			dims = []cwtypes.Dimension{{Name: aws.String(dim), Value: aws.String(value)}}
		}
		qs = append(qs, cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String(stat),
		}})
	}
	add("iteratorAge", "AWS/Lambda", "IteratorAge", "Maximum", "FunctionName", function)
	add("lag", emf.Namespace, "ReplicationLagMs", "Maximum", "TargetTable", target)
	add("oldest", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "QueueName", queue)
	return qs
}

// metricValue is a metric's newest data point; value is nil without one.
type metricValue struct {
	value *float64
	at    time.Time
}

// latestMetrics returns the newest value of each query over statusWindow.
func latestMetrics(ctx context.Context, api statusMetrics, qs []cwtypes.MetricDataQuery, now time.Time) (map[string]metricValue, error) {
	values := map[string]metricValue{}
	if len(qs) == 0 {
		return values, nil
	}
	in := &cloudwatch.GetMetricDataInput{MetricDataQueries: qs, StartTime: aws.Time(now.Add(-statusWindow)), EndTime: aws.Time(now),
		ScanBy: cwtypes.ScanByTimestampDescending}
	for {
		out, err := api.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get metric data: %w", err)
		}
		for _, r := range out.MetricDataResults {
			id := aws.ToString(r.Id)
			for i, ts := range r.Timestamps {
				if i < len(r.Values) && (values[id].value == nil || ts.After(values[id].at)) {
					v := r.Values[i]
					values[id] = metricValue{value: &v, at: ts}
				}
			}
		}
		if out.NextToken == nil {
			return values, nil
		}
		in.NextToken = out.NextToken
	}
}

// queueState reads the failure queue's depth.
func queueState(ctx context.Context, api statusQueues, url string) (QueueState, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		return QueueState{}, fmt.Errorf("get attributes of queue %s: %w", url, err)
	}
	n := func(name sqstypes.QueueAttributeName) int64 {
		v, _ := strconv.ParseInt(out.Attributes[string(name)], 10, 64)
		return v
	}
	return QueueState{URL: url, Visible: n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)}, nil
}

// problems lists what needs attention.
func problems(r StatusReport, flags tableFlags, target string) []string {
	p := []string{}
	if m := r.Mapping; m != nil {
		if m.State != "Enabled" {
			p = append(p, "event source mapping is "+m.State)
		}
		if m.LastResult != "OK" && m.LastResult != "No records processed" && m.LastResult != "" {
			p = append(p, "last processing result: "+m.LastResult)
		}
	} else {
		p = append(p, "the stack has no event source mapping")
	}
	if f := r.Function; f != nil && (f.State != "Active" || f.LastUpdateStatus != "Successful" && f.LastUpdateStatus != "") {
		p = append(p, "function "+f.Name+" is "+f.State+" (last update "+f.LastUpdateStatus+")")
	}
	if q := r.Failures; q != nil && q.Visible+q.InFlight > 0 {
		msg := fmt.Sprintf("%d failed batches in the failure queue", q.Visible+q.InFlight)
		if q.RedriveBeforeUTC != "" {
			msg += ", redrive them before " + q.RedriveBeforeUTC
		}
		source := "SOURCE"
		if r.Mapping != nil {
			source = cmp.Or(tableOf(r.Mapping.EventSourceARN), source)
		}
		p = append(p, msg+": "+suggest("redrive", flags, source, cmp.Or(target, "TARGET"), "--queue-url", q.URL))
	}
	return p
}

// print writes the report as text.
func (r StatusReport) print(w io.Writer) error {
	ms := func(v *float64) string {
		if v == nil {
			return "no data in the last 15 minutes"
		}
		return (time.Duration(*v) * time.Millisecond).String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s in %s\n", r.Stack, r.Region)
	if m := r.Mapping; m != nil {
		fmt.Fprintf(&b, "  mapping:   %s, last result %s (%s)\n", m.State, m.LastResult, m.UUID)
	} else {
		b.WriteString("  mapping:   none\n")
	}
	if f := r.Function; f != nil {
		fmt.Fprintf(&b, "  function:  %s %s, last update %s, code %s", f.Name, f.State, f.LastUpdateStatus, f.CodeSHA256)
		if f.Version != "" || f.Commit != "" {
			fmt.Fprintf(&b, ", version %s commit %s", f.Version, f.Commit)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  iterator age (max): %s\n", ms(r.Metrics.IteratorAgeMaxMS))
	fmt.Fprintf(&b, "  replication lag:    %s", ms(r.Metrics.ReplicationLagMS))
	if r.Metrics.ReplicationLagAtUTC != "" {
		fmt.Fprintf(&b, " (at %s)", r.Metrics.ReplicationLagAtUTC)
	}
	b.WriteString("\n")
	if q := r.Failures; q != nil {
		age := "no data"
		if q.OldestAgeSeconds != nil {
			age = (time.Duration(*q.OldestAgeSeconds) * time.Second).String()
		}
		fmt.Fprintf(&b, "  failures:  %d visible, %d in flight, oldest %s (%s)\n", q.Visible, q.InFlight, age, q.URL)
	}
	if r.Healthy {
		b.WriteString("healthy\n")
	} else {
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "attention: %s\n", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
