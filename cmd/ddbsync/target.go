package main

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// errOnlyWithRole refuses an external ID without a role to pass it to.
var errOnlyWithRole = errors.New("needs --target-role-arn: the role it is passed to")

// roleFlags name the role assumed for the target table (a target in
// another account): the commands that read or write the target share them.
type roleFlags struct {
	TargetRoleARN, TargetExternalID string
}

// bind adds --target-role-arn and --target-external-id.
func (r *roleFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&r.TargetRoleARN, "target-role-arn", "", "IAM role `ARN` to assume for the target table only (a target in another account;\ndefault: your own credentials); the source is read with your own")
	fs.StringVar(&r.TargetExternalID, "target-external-id", "", "external `ID` passed when assuming --target-role-arn (the trust policy's\nsts:ExternalId)")
}

// validate checks the role flags.
func (r roleFlags) validate() []error {
	var errs []error
	if r.TargetRoleARN != "" {
		if err := dynamo.ValidateRoleARN(r.TargetRoleARN); err != nil {
			errs = append(errs, &FlagError{Flag: "target-role-arn", Err: err})
		}
	}
	if r.TargetExternalID != "" {
		if r.TargetRoleARN == "" {
			errs = append(errs, &FlagError{Flag: "target-external-id", Err: errOnlyWithRole})
		} else if err := dynamo.ValidateExternalID(r.TargetExternalID); err != nil {
			errs = append(errs, &FlagError{Flag: "target-external-id", Err: err})
		}
	}
	return errs
}

// role returns the role to assume for the target (none without
// --target-role-arn).
func (r roleFlags) role() dynamo.Role {
	return dynamo.Role{ARN: r.TargetRoleARN, ExternalID: r.TargetExternalID}
}

// targetClient returns a client of the target table: in --target-region,
// as --target-role-arn if set; with the SDK's retries (reads), or without
// them for a dynamo.Table (writes); with a pool for conns calls in flight
// if conns > 0.
func (t tableFlags) targetClient(cfg aws.Config, conns int, sdkRetries bool) *dynamodb.Client {
	return dynamo.NewClient(cfg, dynamo.ClientOptions{Region: t.TargetRegion, Endpoint: t.Endpoint, Conns: conns,
		SDKRetries: sdkRetries, Role: t.role()})
}
