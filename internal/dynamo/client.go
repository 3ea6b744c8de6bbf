package dynamo

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// DefaultRoleSessionName names the sessions of an assumed target role, as
// CloudTrail in the target account shows them.
const DefaultRoleSessionName = "ddbsync"

// RoleExpiryWindow is how long before their expiry an assumed role's
// credentials are refreshed: the SDK's default session lasts 15 minutes,
// so a refresh happens after about 10, and no request is signed with
// credentials about to expire.
const RoleExpiryWindow = 5 * time.Minute

// Role is an IAM role a client assumes with STS AssumeRole, for a target
// table in another account.
type Role struct {
	// ARN is the role to assume; empty: the configuration's own
	// credentials.
	ARN string
	// ExternalID is passed as AssumeRole's ExternalId when set (the trust
	// policy's sts:ExternalId condition).
	ExternalID string
	// SessionName is the role session name (default DefaultRoleSessionName).
	SessionName string
	// STS, if set, is the AssumeRole client (default one made from the
	// configuration: the caller's own credentials and region).
	STS stscreds.AssumeRoleAPIClient
}

// ValidateRoleARN checks that arn is an IAM role ARN
// (arn:PARTITION:iam::ACCOUNT:role/NAME, the name possibly after a path).
func ValidateRoleARN(arn string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "iam" || parts[3] != "" ||
		len(parts[4]) != 12 || strings.Trim(parts[4], "0123456789") != "" ||
		!strings.HasPrefix(parts[5], "role/") || strings.HasSuffix(parts[5], "/") {
		return fmt.Errorf("%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", arn)
	}
	return nil
}

// ValidateExternalID checks an AssumeRole external ID: 2 to 1224
// characters of letters, digits and +=,.@:/-_ (STS's pattern).
func ValidateExternalID(id string) error {
	if len(id) < 2 || len(id) > 1224 {
		return fmt.Errorf("external ID must be 2 to 1224 characters, not %d", len(id))
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("+=,.@:/-_", r) {
			return fmt.Errorf("external ID has %q: only letters, digits and +=,.@:/-_ are allowed", r)
		}
	}
	return nil
}

// Credentials returns the credentials of the assumed role: an
// AssumeRoleProvider behind a cache that refreshes them RoleExpiryWindow
// before they expire. It makes no call until the first request is signed.
func (r Role) Credentials(cfg aws.Config) *aws.CredentialsCache {
	client := r.STS
	if client == nil {
		client = sts.NewFromConfig(cfg)
	}
	provider := stscreds.NewAssumeRoleProvider(client, r.ARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = r.SessionName
		if o.RoleSessionName == "" {
			o.RoleSessionName = DefaultRoleSessionName
		}
		if r.ExternalID != "" {
			o.ExternalID = aws.String(r.ExternalID)
		}
	})
	return aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = RoleExpiryWindow
	})
}

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
	// Role, if its ARN is set, is assumed for every request of the client
	// (a target table in another account); other clients made from the
	// same configuration keep its credentials.
	Role Role
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
		if opts.Role.ARN != "" {
			o.Credentials = opts.Role.Credentials(cfg)
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
