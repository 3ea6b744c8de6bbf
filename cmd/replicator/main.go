// Command replicator is the ddbsync Lambda function: it applies DynamoDB
// Streams batches from a source table to a target table and reports partial
// batch failures. See the README for its environment variables.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/fanout"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbsync replicator: invalid configuration:", err)
		os.Exit(1)
	}
	if limit, ok := memoryLimit(os.Getenv); ok {
		debug.SetMemoryLimit(limit)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbsync replicator: load AWS config:", err)
		os.Exit(1)
	}
	client := dynamo.NewClient(awsCfg, dynamo.ClientOptions{Region: cfg.TargetRegion, Conns: cfg.Concurrency})
	opts := lambdahandler.Options{TargetTable: cfg.TargetTable, Logger: logger, Metrics: os.Stdout}
	var rep *replicate.Replicator
	if cfg.TargetTable != "" {
		tableOpts := dynamo.Options{Retry: retry.Policy{MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay}}
		repOpts := replicate.Options{Concurrency: cfg.Concurrency, DeadlineMargin: cfg.DeadlineMargin}
		rep = replicate.New(dynamo.NewTable(client, cfg.TargetTable, tableOpts), repOpts)
		// Keys-only messages are re-read from the source table, in the function's own region.
		stale := fanout.NewStaleCounter(client) // the guard's refused writes, for the StaleSkipped metric
		guard := dynamo.NewSeqGuard(dynamo.NewTable(stale, cfg.TargetTable, tableOpts), cfg.Names(), dynamo.GuardOptions{TombstoneRetention: cfg.TombstoneRetention})
		opts.Applier = fanout.NewApplier(replicate.New(guard, repOpts), dynamodb.NewFromConfig(awsCfg), cfg.SourceTable)
		opts.Applier.Stale = stale
	}
	if cfg.TopicARN != "" {
		opts.Publisher = fanout.NewPublisher(sns.NewFromConfig(awsCfg, func(o *sns.Options) {
			o.Retryer = aws.NopRetryer{} // fanout.Publisher retries, within the deadline
		}), cfg.TopicARN, fanout.PublisherOptions{DeadlineMargin: cfg.DeadlineMargin})
	}
	h := lambdahandler.New(rep, opts)
	slog.SetDefault(logger)
	logger.Info("replicator starting", slog.String("version", version()), slog.String("table", cfg.TargetTable), slog.String("topic", cfg.TopicARN))
	lambda.Start(h)
}
