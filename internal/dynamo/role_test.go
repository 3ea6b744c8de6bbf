package dynamo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

// fakeSTS answers AssumeRole with credentials valid for ttl, recording the
// inputs.
type fakeSTS struct {
	ttl time.Duration
	mu  sync.Mutex
	in  []*sts.AssumeRoleInput
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in = append(f.in, in)
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("ASSUMED"), SecretAccessKey: aws.String("secret"), SessionToken: aws.String("token"),
		Expiration: aws.Time(time.Now().Add(f.ttl)),
	}}, nil
}

func (f *fakeSTS) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.in)
}

func TestNewClient_Role(t *testing.T) {
	own := credentials.NewStaticCredentialsProvider("OWN", "secret", "")
	cfg := aws.Config{Region: "us-east-1", Credentials: own}
	fake := &fakeSTS{ttl: time.Hour}
	role := dynamo.Role{ARN: "arn:aws:iam::111122223333:role/ddbsync-target", ExternalID: "ext-1", STS: fake}

	source := dynamo.NewClient(cfg, dynamo.ClientOptions{SDKRetries: true}).Options()
	target := dynamo.NewClient(cfg, dynamo.ClientOptions{Region: "eu-west-1", Role: role}).Options()

	got, err := source.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "OWN", got.AccessKeyID, "the source keeps the configuration's credentials")
	assert.Zero(t, fake.calls())

	got, err = target.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "ASSUMED", got.AccessKeyID, "the target signs with the assumed role")
	require.Equal(t, 1, fake.calls())
	assert.Equal(t, role.ARN, aws.ToString(fake.in[0].RoleArn))
	assert.Equal(t, "ext-1", aws.ToString(fake.in[0].ExternalId))
	assert.Equal(t, dynamo.DefaultRoleSessionName, aws.ToString(fake.in[0].RoleSessionName))
}

func TestRole_Credentials(t *testing.T) {
	tests := map[string]struct {
		ttl   time.Duration
		calls int
	}{
		"valid past the window: cached":           {ttl: dynamo.RoleExpiryWindow + time.Minute, calls: 1},
		"inside the window: refreshed every time": {ttl: dynamo.RoleExpiryWindow - time.Minute, calls: 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fake := &fakeSTS{ttl: tt.ttl}
			creds := dynamo.Role{ARN: "arn:aws:iam::111122223333:role/r", SessionName: "s", STS: fake}.Credentials(aws.Config{})
			for range 3 {
				_, err := creds.Retrieve(t.Context())
				require.NoError(t, err)
			}
			assert.Equal(t, tt.calls, fake.calls())
			assert.Nil(t, fake.in[0].ExternalId, "no external ID unless set")
			assert.Equal(t, "s", aws.ToString(fake.in[0].RoleSessionName))
		})
	}
}
