// Command exportworker is the Lambda function of template-backfill.yaml:
// each invocation verifies one data file of a DynamoDB export and loads it
// into the target table (see internal/exportload/worker). It is a second
// small main beside cmd/replicator because its event, configuration and
// permissions (S3 reads, no stream) are not the replicator's.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/worker"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

func main() {
	logger := lambdacontext.NewLogger()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		fail("invalid configuration", err)
	}
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail("load AWS config", err)
	}
	db := dynamo.NewClient(awsCfg, dynamo.ClientOptions{Region: cfg.TargetRegion, Conns: cfg.Concurrency})
	info, err := tablesync.Describe(ctx, db, cfg.TargetTable)
	if err != nil {
		fail("describe target table", err)
	}
	keys := info.Keys
	if !cfg.Rules.IsIdentity() {
		if err := tablesync.CheckTargetKey(tablesync.TableInfo{Name: "the source (SOURCE_KEYS)", Keys: cfg.SourceKeys}, info, cfg.Rules); err != nil {
			fail("check target key", err)
		}
		keys = cfg.SourceKeys // the exported items are keyed as the source
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle })
	loader := &exportload.FileLoader{
		S3:          s3c,
		Writer:      dynamo.NewTable(db, cfg.TargetTable, dynamo.Options{Retry: retry.Policy{MaxAttempts: cfg.MaxAttempts, BaseDelay: cfg.BaseDelay, MaxDelay: cfg.MaxDelay}}),
		Keys:        keys,
		Rules:       cfg.Rules,
		Concurrency: cfg.Concurrency,
		StopMargin:  cfg.StopMargin,
		Logger:      logger,
	}
	h := worker.New(loader, logger)
	logger.Info("export worker starting", "version", version(), "table", cfg.TargetTable)
	lambda.Start(h.Handle)
}

// fail reports an init error and exits: Lambda records the init failure.
func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "ddbsync export worker: %s: %v\n", what, err)
	os.Exit(1)
}
