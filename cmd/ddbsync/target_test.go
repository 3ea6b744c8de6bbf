package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
)

func TestTableFlags_TargetClient(t *testing.T) {
	own := credentials.NewStaticCredentialsProvider("OWN", "secret", "")
	cfg := aws.Config{Region: "us-east-1", Credentials: own}
	tests := map[string]struct {
		flags   tableFlags
		assumed bool
	}{
		"no role: own credentials": {flags: tableFlags{TargetRegion: "eu-west-1"}},
		"role: assumed for the target": {flags: tableFlags{TargetRegion: "eu-west-1",
			roleFlags: roleFlags{TargetRoleARN: "arn:aws:iam::111122223333:role/r", TargetExternalID: "ext"}}, assumed: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			o := tt.flags.targetClient(cfg, 8, true).Options()
			assert.Equal(t, "eu-west-1", o.Region)
			_, cached := o.Credentials.(*aws.CredentialsCache)
			assert.Equal(t, tt.assumed, cached, "an assumed role is behind a credentials cache")
			assert.Equal(t, own, newReadClient(cfg, "", "", 8).Options().Credentials, "the source keeps its own")
		})
	}
}

func TestRoleFlags_Validate(t *testing.T) {
	tests := map[string]struct {
		flags roleFlags
		want  []string
	}{
		"none":            {},
		"role and ID":     {flags: roleFlags{TargetRoleARN: "arn:aws:iam::111122223333:role/r", TargetExternalID: "ext-1"}},
		"malformed ARN":   {flags: roleFlags{TargetRoleARN: "role/r"}, want: []string{`--target-role-arn: "role/r" is not an IAM role ARN`}},
		"ID without role": {flags: roleFlags{TargetExternalID: "ext-1"}, want: []string{"--target-external-id: needs --target-role-arn"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			errs := tt.flags.validate()
			assert.Len(t, errs, len(tt.want))
			for i, w := range tt.want {
				assert.ErrorContains(t, errs[i], w)
			}
		})
	}
}
