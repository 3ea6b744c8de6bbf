package dynamo_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/dynamo"
)

func TestNewClient(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	o := dynamo.NewClient(cfg, dynamo.ClientOptions{}).Options()
	assert.Equal(t, "us-east-1", o.Region)
	assert.IsType(t, aws.NopRetryer{}, o.Retryer, "Table retries, not the SDK")
	assert.Nil(t, o.BaseEndpoint)
	assert.False(t, o.DisableValidateResponseChecksum)

	o = dynamo.NewClient(cfg, dynamo.ClientOptions{Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000", Conns: 32}).Options()
	assert.Equal(t, "eu-west-1", o.Region)
	assert.Equal(t, "http://127.0.0.1:8000", aws.ToString(o.BaseEndpoint))
	assert.True(t, o.DisableValidateResponseChecksum, "DynamoDB Local's errors carry no CRC32")
}
