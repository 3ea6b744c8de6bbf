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
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ddbsync/ddbsync/internal/replicator"
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
	h, err := replicator.New(awsCfg, cfg.Replicator(logger, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbsync replicator: invalid configuration:", err)
		os.Exit(1)
	}
	slog.SetDefault(logger)
	attrs := []any{slog.String("version", version()), slog.String("table", cfg.TargetTable), slog.String("topic", cfg.TopicARN)}
	if cfg.Rules != nil {
		// Where the rule set came from and its size, never its contents.
		attrs = append(attrs, slog.String("rules", cfg.RulesSource), slog.Int("ruleCount", len(cfg.Rules.Rules)),
			slog.String("ttlDeletes", string(cfg.Rules.TTL)))
	}
	logger.Info("replicator starting", attrs...)
	lambda.Start(h)
}
