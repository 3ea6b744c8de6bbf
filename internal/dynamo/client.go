package dynamo

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientOptions shapes a client made by [NewClient]; zero fields take the
// SDK's defaults.
type ClientOptions struct {
	// Region overrides the configuration's region.
	Region string
	// Endpoint, if set, is the DynamoDB URL (DynamoDB Local); response
	// checksums are then not validated, as DynamoDB Local's errors have
	// none.
	Endpoint string
	// Conns is how many idle connections to keep: one per call in flight.
	// Zero keeps the configuration's HTTP client.
	Conns int
	// SDKRetries keeps the SDK's standard retryer, for callers without a
	// retry loop of their own (reads, describes, re-reads of the source).
	// Without it the retryer is off: a [Table] retries, within the caller's
	// deadline, counting every attempt.
	SDKRetries bool
}

// NewClient returns a DynamoDB client: the one constructor of every
// DynamoDB client the binaries use. By default it is the client a Table
// writes through: the SDK's retryer off and, with Conns, a connection pool
// sized for the calls in flight.
func NewClient(cfg aws.Config, opts ClientOptions) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if opts.Region != "" {
			o.Region = opts.Region
		}
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.DisableValidateResponseChecksum = true
		}
		if !opts.SDKRetries {
			o.Retryer = aws.NopRetryer{}
		}
		if opts.Conns > 0 {
			o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
				t.MaxIdleConnsPerHost = opts.Conns
			})
		}
	})
}
