package queue_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
)

// TestSNS_Contract_Moto holds moto_server's SNS to the contract that
// queuetest.FakeSNS keeps.
func TestSNS_Contract_Moto(t *testing.T) {
	endpoint := testkit.SharedMoto(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	api := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(endpoint) })
	queuetest.RunSNSContract(t, func(t *testing.T) queuetest.Topic {
		topic, err := api.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String(testkit.NewAccessKeyID(t) + ".fifo"),
			Attributes: map[string]string{"FifoTopic": "true", "ContentBasedDeduplication": "false"}})
		require.NoError(t, err)
		return queuetest.Topic{API: api, ARN: aws.ToString(topic.TopicArn)}
	})
}
