package dynamo

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClientOptions shapes the client of a [Table]; zero fields take the SDK's
// defaults.
type ClientOptions struct {
	// Region overrides the configuration's region.
	Region string
	// Endpoint, if set, is the DynamoDB URL (DynamoDB Local); response
	// checksums are then not validated, as DynamoDB Local's errors have
	// none.
	Endpoint string
	// Conns is how many idle connections to keep: one per write in flight.
	Conns int
}

// NewClient returns the DynamoDB client a Table writes through: the SDK's
// retryer off (Table retries, within the caller's deadline) and a
// connection pool sized for the writes in flight.
func NewClient(cfg aws.Config, opts ClientOptions) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if opts.Region != "" {
			o.Region = opts.Region
		}
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.DisableValidateResponseChecksum = true
		}
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			if opts.Conns > 0 {
				t.MaxIdleConnsPerHost = opts.Conns
			}
		})
	})
}
