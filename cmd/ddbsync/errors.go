package main

import (
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/codestatus"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// awsError is an error of AWS, permissions or configuration: no
// credentials or region, a missing or unsuitable table, access denied,
// throttling, an endpoint out of reach (exit status 3).
type awsError struct{ err error }

func (e *awsError) Error() string { return e.err.Error() }

func (e *awsError) Unwrap() error { return e.err }

// outcome reports whether err is a result rather than a failure to get
// one: differences, failed records, batches left, drift, a declined plan,
// export files that failed to load, a backfill execution that failed
// (exit status 1 even when an AWS error is among the causes).
func outcome(err error) bool {
	var failed *RecordsFailedError
	var files *LoadFailedError
	var execution *ExecutionFailedError
	var rulesFailed *recordsFailed
	return errors.As(err, &failed) || errors.As(err, &files) || errors.As(err, &execution) || errors.As(err, &rulesFailed) ||
		errors.Is(err, ErrTablesDiffer) || errors.Is(err, ErrNotRedriven) || errors.Is(err, rules.ErrNotPushable) ||
		errors.Is(err, codestatus.ErrDrift) || errors.Is(err, ErrDeclined) || errors.Is(err, errStackDrift)
}

// isAWSError reports whether err comes from AWS or its configuration: an
// awsError, or any failed SDK operation (a service error, a signing or
// credentials failure, a connection refused).
func isAWSError(err error) bool {
	var aerr *awsError
	var op *smithy.OperationError
	return errors.As(err, &aerr) || errors.As(err, &op)
}

// explain adds to an SDK error what a person can do about it: for access
// denied, the action and resource to allow; for throttling, what to lower.
// Other errors are returned as they are.
func explain(err error) error {
	var op *smithy.OperationError
	var api smithy.APIError
	if !errors.As(err, &op) || !errors.As(err, &api) {
		return err
	}
	action := strings.ToLower(serviceAction(op.ServiceID)) + ":" + op.OperationName
	switch code := api.ErrorCode(); {
	case strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation" || code == "AuthorizationError" ||
		code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || code == "ExpiredToken" || code == "ExpiredTokenException":
		if code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || strings.HasPrefix(code, "ExpiredToken") {
			return fmt.Errorf("%w\n  the credentials were refused (%s): check the profile (--profile, AWS_PROFILE), renew an SSO session with aws sso login, or check the endpoint and region", err, code)
		}
		return fmt.Errorf("%w\n  access denied: allow the action %s on the resource it names (the table, stream, queue or stack; see the message above) in the IAM policy of the identity that ran it (aws sts get-caller-identity)", err, action)
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() ||
		code == "ProvisionedThroughputExceededException" || code == "RequestLimitExceeded" || code == "ThrottlingException" || code == "LimitExceededException":
		return fmt.Errorf("%w\n  throttled (%s on %s) after the SDK's retries: lower --max-wcu, --max-rcu, --segments or --concurrency, or raise the table's capacity (or use on-demand); run again to continue (backfill resumes with its --checkpoint)", err, code, action)
	}
	return err
}

// serviceAction returns the IAM prefix of an SDK service ID.
func serviceAction(serviceID string) string {
	switch serviceID {
	case "DynamoDB Streams":
		return "dynamodb"
	case "CloudFormation":
		return "cloudformation"
	case "CloudWatch":
		return "cloudwatch"
	}
	return strings.ReplaceAll(serviceID, " ", "")
}

// noCredentials explains that the default chain found no credentials:
// what it tried and how to configure them.
func noCredentials(profile string, err error) error {
	p := "the default profile (or AWS_PROFILE)"
	if profile != "" {
		p = "profile " + profile
	}
	return &awsError{err: fmt.Errorf("no AWS credentials: tried the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "+
		"%s in the shared files (~/.aws/credentials, ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE; "+
		"its SSO, credential_process and role settings), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the container role "+
		"and the EC2 instance role (IMDS); configure them with aws configure, aws configure sso and aws sso login, "+
		"or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (DynamoDB Local accepts any): %w", p, err)}
}

// quietSDKLogs keeps the SDK's and the standard logger's warnings off the
// terminal: every SDK client is built with a Nop logger, and the standard
// log package, which some dependencies write to, goes nowhere.
func quietSDKLogs() {
	log.SetOutput(discard{})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
