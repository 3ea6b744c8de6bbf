package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmptyEndpointVariable: the templates declare AWS_ENDPOINT_URL_DYNAMODB
// empty (so that sam local invoke -n can set it); the SDK, loading its
// configuration as main does, ignores the empty value and keeps DynamoDB's
// own endpoint, while a set value points the client at it.
func TestEmptyEndpointVariable(t *testing.T) {
	tests := map[string]struct {
		value string
		want  *string
	}{
		"empty: AWS":          {value: "", want: nil},
		"set: DynamoDB Local": {value: "http://127.0.0.1:8000", want: aws.String("http://127.0.0.1:8000")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", tt.value)
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv("AWS_REGION", "us-east-1")
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_PROFILE", "") // a profile of the caller's environment would be looked for in the empty files
			cfg, err := config.LoadDefaultConfig(t.Context())
			require.NoError(t, err)
			client := dynamodb.NewFromConfig(cfg)
			assert.Equal(t, tt.want, client.Options().BaseEndpoint)
		})
	}
}
