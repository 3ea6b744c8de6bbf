package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// accountTimeout bounds the STS call that names the account in a plan.
const accountTimeout = 5 * time.Second

// credentialsTimeout bounds the first look-up of the credentials.
const credentialsTimeout = 10 * time.Second

// loadAWSConfig loads the SDK configuration from the default chain
// (environment, shared config and credentials files, SSO, IMDS), with
// region overriding the configured one and profile the default profile.
// It retrieves the credentials once, so that a missing one is reported
// with what was tried and how to configure it (exit 3), not as the last
// provider's error. SDK log lines (warnings) are discarded.
func loadAWSConfig(ctx context.Context, region, profile string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &awsError{err: fmt.Errorf("load AWS config: %w", err)}
	}
	if cfg.Region == "" {
		return aws.Config{}, &awsError{err: errors.New("no AWS region: pass --region, set AWS_REGION or DDBSYNC_REGION, or set region in the profile (aws configure set region us-east-1)")}
	}
	if ctx.Err() != nil {
		return cfg, nil // interrupted: the command's first call says so, as it would have
	}
	rctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(rctx); err != nil {
		if ctx.Err() != nil {
			return cfg, nil
		}
		return aws.Config{}, noCredentials(profile, err)
	}
	return cfg, nil
}

// newDynamoDB returns a DynamoDB client with the SDK's standard retries,
// for endpoint if set (then without response checksum validation, which
// DynamoDB Local's errors fail) and in region if set.
func newDynamoDB(cfg aws.Config, endpoint, region string) *dynamodb.Client {
	return dynamo.NewClient(cfg, dynamo.ClientOptions{Region: region, Endpoint: endpoint, SDKRetries: true})
}

// newStreams returns a DynamoDB Streams client, for endpoint if set. Both
// clients need the endpoint: with only DynamoDB's, the Streams client would
// go to AWS.
func newStreams(cfg aws.Config, endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// endpointOf returns where DynamoDB is reached: the --endpoint-url, else
// the SDK's endpoint variables, else "AWS".
func endpointOf(flag string) string {
	for _, v := range []string{flag, os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), os.Getenv("AWS_ENDPOINT_URL")} {
		if v != "" {
			return v
		}
	}
	return "AWS"
}

// locate returns where the tables of t are, with cfg's region as default;
// the account is asked of STS once, when first needed.
func locate(ctx context.Context, cfg aws.Config, t tableFlags) location {
	loc := location{Region: cfg.Region, TargetRegion: cfg.Region, Endpoint: endpointOf(t.Endpoint)}
	if t.TargetRegion != "" {
		loc.TargetRegion = t.TargetRegion
	}
	loc.Account = sync.OnceValue(func() string { return accountOf(ctx, cfg, loc.Endpoint) })
	return loc
}

// accountOf names the AWS account for a plan: from STS GetCallerIdentity,
// or "unknown (...)" for an endpoint URL (DynamoDB Local has no account)
// or when STS cannot be reached.
func accountOf(ctx context.Context, cfg aws.Config, endpoint string) string {
	if endpoint != "AWS" {
		return "unknown (endpoint URL " + endpoint + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "unknown (STS GetCallerIdentity: " + dynamo.ErrorClass(err) + ")"
	}
	return aws.ToString(out.Account) + " (" + aws.ToString(out.Arn) + ")"
}
