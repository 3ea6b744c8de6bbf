package tablesync

import (
	"github.com/ddbsync/ddbsync/internal/retry"
)

// RetryOptions shapes the retries of reads and repair writes: a
// retry.Policy whose zero fields take dynamo.DefaultRetry's, the
// replicator's writes' policy. Throttling, 5xx and connection errors are
// retried ([dynamo.Retryable]), and so are BatchGetItem's UnprocessedKeys.
type RetryOptions = retry.Policy
