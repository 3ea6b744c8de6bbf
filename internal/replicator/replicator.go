package replicator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Mode says which events the replicator takes and what it does with them;
// modes combine with |.
type Mode uint8

const (
	// ModeApply applies DynamoDB Streams events to the target table.
	ModeApply Mode = 1 << iota
	// ModePublish publishes DynamoDB Streams events to the SNS FIFO topic
	// (and applies them too with ModeApply).
	ModePublish
	// ModeQueue applies SQS events of envelopes (the queue topology's
	// messages) to the target table, through the stale-write guard.
	ModeQueue

	modeAll = ModeApply | ModePublish | ModeQueue
)

// String names the modes set, e.g. "apply|queue".
func (m Mode) String() string {
	var s string
	for _, n := range []struct {
		bit  Mode
		name string
	}{{ModeApply, "apply"}, {ModePublish, "publish"}, {ModeQueue, "queue"}} {
		if m&n.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// ErrConfig is wrapped by the errors of an unusable Config.
var ErrConfig = errors.New("replicator config")

// Config is the whole configuration of a replicator; zero fields take the
// packages' defaults.
type Config struct {
	// Mode says what the replicator does (required).
	Mode Mode
	// TargetTable is the table written to (required with ModeApply and
	// ModeQueue).
	TargetTable string
	// TargetRegion is the target table's region (default the
	// configuration's).
	TargetRegion string
	// TargetRole, if its ARN is set, is assumed for the target table's
	// client only (a target in another account); the source re-reads and
	// SNS keep awsCfg's credentials.
	TargetRole dynamo.Role
	// Endpoint, if set, is the DynamoDB URL of both tables (DynamoDB Local).
	Endpoint string
	// TopicARN is the SNS FIFO topic of ModePublish (required with it).
	TopicARN string
	// SourceTable names the table ModeQueue re-reads keys-only messages
	// from, a name or an ARN (default the table ARN carried by each
	// message), in the configuration's region.
	SourceTable string
	// Names are the stale-write guard's attributes (ModeQueue; empty names
	// take the replattr defaults).
	Names replattr.Names
	// TombstoneRetention is how long the guard keeps tombstones (default
	// dynamo.DefaultTombstoneRetention).
	TombstoneRetention time.Duration
	// Concurrency bounds the BatchWriteItem calls in flight and sizes the
	// connection pool (default replicate.DefaultConcurrency).
	Concurrency int
	// Retry shapes each write's retries (zero fields: dynamo.DefaultRetry's).
	Retry retry.Policy
	// DeadlineMargin is kept free before the invocation deadline (default
	// replicate.DefaultDeadlineMargin).
	DeadlineMargin time.Duration
	// Rules is the rule set applied on the way to the target table, by
	// ModeApply and ModeQueue (nil: items are copied as they are). Publish
	// alone forwards the records raw: the apply end applies the rules.
	Rules *rules.RuleSet
	// Logger receives the handlers' summary lines (default: discard).
	Logger *slog.Logger
	// Metrics receives one EMF line per invocation (default: none).
	Metrics io.Writer
}

// Validate checks what New needs: a known, non-empty mode and the table or
// topic it writes to.
func (c Config) Validate() error {
	var errs []error
	if c.Mode == 0 || c.Mode&^modeAll != 0 {
		errs = append(errs, fmt.Errorf("%w: mode %d: want apply, publish or queue", ErrConfig, c.Mode))
	}
	if c.Mode&(ModeApply|ModeQueue) != 0 && c.TargetTable == "" {
		errs = append(errs, fmt.Errorf("%w: mode %s needs a target table", ErrConfig, c.Mode))
	}
	if c.Mode&ModePublish != 0 && c.TopicARN == "" {
		errs = append(errs, fmt.Errorf("%w: mode %s needs a topic ARN", ErrConfig, c.Mode))
	}
	return errors.Join(errs...)
}

// New builds the replicator cfg describes, with its SDK clients made from
// awsCfg once (warm invocations reuse them), and returns its entry point.
// It makes no AWS call.
func New(awsCfg aws.Config, cfg Config) (*lambdahandler.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := lambdahandler.Options{TargetTable: cfg.TargetTable, Logger: cfg.Logger, Metrics: cfg.Metrics}
	tableOpts := dynamo.Options{Retry: cfg.Retry}
	repOpts := replicate.Options{Concurrency: cfg.Concurrency, DeadlineMargin: cfg.DeadlineMargin, Rules: cfg.Rules}
	var target *dynamodb.Client
	if cfg.Mode&(ModeApply|ModeQueue) != 0 {
		target = dynamo.NewClient(awsCfg, dynamo.ClientOptions{Region: cfg.TargetRegion, Endpoint: cfg.Endpoint, Conns: cfg.Concurrency, Role: cfg.TargetRole})
	}
	var rep *replicate.Replicator
	if cfg.Mode&ModeApply != 0 {
		rep = replicate.New(dynamo.NewTable(target, cfg.TargetTable, tableOpts), repOpts)
	}

	var stream lambdahandler.StreamBatchHandler
	switch {
	case cfg.Mode&ModePublish != 0:
		pub := queue.NewPublisher(sns.NewFromConfig(awsCfg, func(o *sns.Options) {
			o.Retryer = aws.NopRetryer{} // queue.Publisher retries, within the deadline
		}), cfg.TopicARN, queue.PublisherOptions{DeadlineMargin: cfg.DeadlineMargin})
		stream = lambdahandler.NewPublishHandler(pub, rep, opts)
	case rep != nil:
		stream = lambdahandler.NewStreamHandler(rep, opts)
	}

	var queue *lambdahandler.QueueHandler
	if cfg.Mode&ModeQueue != 0 {
		queue = lambdahandler.NewQueueHandler(newApplier(awsCfg, cfg, target, repOpts), opts)
	}
	return lambdahandler.NewHandler(stream, queue, opts), nil
}

// newApplier returns the queue path's applier: writes through the
// stale-write guard over the target table's client (counting the writes it
// refuses, for the StaleSkipped metric), and keys-only messages re-read
// from the source table in the configuration's region, with the SDK's
// retries (the Applier has no retry loop of its own).
func newApplier(awsCfg aws.Config, cfg Config, target *dynamodb.Client, repOpts replicate.Options) *queue.Applier {
	stale := queue.NewStaleCounter(target)
	guard := dynamo.NewSeqGuard(dynamo.NewTable(stale, cfg.TargetTable, dynamo.Options{Retry: cfg.Retry}), cfg.Names,
		dynamo.GuardOptions{TombstoneRetention: cfg.TombstoneRetention})
	source := dynamo.NewClient(awsCfg, dynamo.ClientOptions{Endpoint: cfg.Endpoint, SDKRetries: true})
	applier := queue.NewApplier(replicate.New(guard, repOpts), source, cfg.SourceTable)
	applier.Stale = stale
	return applier
}
