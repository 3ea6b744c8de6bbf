package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
)

func TestClassify(t *testing.T) {
	// The error type Step Functions branches on, for each kind of failure.
	tests := map[string]struct {
		err  error
		want string
	}{
		"retries exhausted": {err: fmt.Errorf("write: %w after 10 attempts: x", dynamo.ErrRetriesExhausted), want: "RetryableError"},
		"throttled":         {err: fmt.Errorf("write: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), want: "RetryableError"},
		"request timeout":   {err: &smithy.GenericAPIError{Code: "RequestTimeoutException"}, want: "RetryableError"},
		"connection reset":  {err: &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, want: "RetryableError"},
		"deadline":          {err: fmt.Errorf("get object: %w", context.DeadlineExceeded), want: "RetryableError"},
		"canceled":          {err: fmt.Errorf("get object: %w", context.Canceled), want: "LoadError"},
		"validation":        {err: &smithy.GenericAPIError{Code: "ValidationException"}, want: "LoadError"},
		"checksum":          {err: fmt.Errorf("verify: %w", exportload.ErrChecksum), want: "VerifyError"},
		"other":             {err: errors.New("boom"), want: "LoadError"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got string
			switch classify(tt.err).(type) {
			case *RetryableError:
				got = "RetryableError"
			case *VerifyError:
				got = "VerifyError"
			case *LoadError:
				got = "LoadError"
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
