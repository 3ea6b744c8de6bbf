// Command replicator is the ddbsync Lambda function: it applies DynamoDB
// Streams batches from a source table to a target table and reports partial
// batch failures. See the README for its environment variables.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/lambdahandler"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbsync replicator: invalid configuration:", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbsync replicator: load AWS config:", err)
		os.Exit(1)
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.TargetRegion != "" {
			o.Region = cfg.TargetRegion
		}
		o.Retryer = aws.NopRetryer{} // dynamo.Table retries, within the deadline
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = cfg.Concurrency
		})
	})
	table := dynamo.NewTable(client, cfg.TargetTable, dynamo.Options{
		MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay,
	})
	rep := replicate.New(table, replicate.Options{Concurrency: cfg.Concurrency, DeadlineMargin: cfg.DeadlineMargin})
	h := lambdahandler.New(rep, lambdahandler.Options{TargetTable: cfg.TargetTable, Logger: logger, Metrics: os.Stdout})
	slog.SetDefault(logger)
	logger.Info("replicator starting", slog.String("version", version()), slog.String("table", cfg.TargetTable))
	lambda.Start(h)
}
