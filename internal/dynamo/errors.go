package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/retry"
)

// ErrRetriesExhausted is wrapped by the error of a write that kept failing
// with retryable errors (or kept coming back unprocessed) for every attempt.
// It is retry.ErrExhausted, so every retry loop's exhaustion matches it.
var ErrRetriesExhausted = retry.ErrExhausted

var retryables = awsretry.IsErrorRetryables(awsretry.DefaultRetryables)

// Transient reports whether the SDK's standard retryer would retry err:
// throttling, HTTP 5xx, connection errors and timeouts, a context
// deadline included. Retryable is Transient without context errors.
func Transient(err error) bool {
	return err != nil && retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// Retryable reports whether err is worth retrying: throttling
// (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded and the SDK's other throttle codes), HTTP 5xx, and
// connection errors. Context cancellation and deadline errors are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return Transient(err)
}

// Retry calls f under p until it succeeds, fails with an error Retryable
// rejects, or p's attempts run out (the error then wraps
// ErrRetriesExhausted); see retry.Policy.Do.
func Retry(ctx context.Context, p retry.Policy, f func() error) error {
	return p.Do(ctx, func(int) (bool, error) {
		err := f()
		return Retryable(err), err
	})
}

// IsValidation reports whether err is DynamoDB's ValidationException, the
// answer to a request that can never succeed as sent.
func IsValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}

// ErrorClass names err's kind for logs and metrics: the API error code when
// there is one, else "timeout", "canceled" or "other".
func ErrorClass(err error) string {
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrRetriesExhausted):
		return "retries_exhausted"
	}
	return "other"
}
