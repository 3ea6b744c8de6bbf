package tablesync

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventJSON(t *testing.T) {
	created := time.Unix(1795000000, 0)
	recs := []streamtypes.Record{{
		AwsRegion: aws.String("us-east-1"), EventID: aws.String("e1"), EventName: streamtypes.OperationTypeModify,
		EventSource: aws.String("aws:dynamodb"), EventVersion: aws.String("1.1"),
		Dynamodb: &streamtypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "a"}},
			NewImage: map[string]streamtypes.AttributeValue{
				"pk":  &streamtypes.AttributeValueMemberS{Value: "a"},
				"n":   &streamtypes.AttributeValueMemberN{Value: "1E+2"},
				"ns":  &streamtypes.AttributeValueMemberNS{Value: []string{"0.10000000000000000001"}},
				"m":   &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{"b": &streamtypes.AttributeValueMemberB{Value: []byte{1}}}},
				"nul": &streamtypes.AttributeValueMemberNULL{Value: true},
			},
			SequenceNumber: aws.String("000000000000000000042"), SizeBytes: aws.Int64(30), StreamViewType: streamtypes.StreamViewTypeNewImage,
		},
	}, {
		EventName: streamtypes.OperationTypeRemove,
		Dynamodb: &streamtypes.StreamRecord{
			Keys:           map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "b"}},
			SequenceNumber: aws.String("43"), StreamViewType: streamtypes.StreamViewTypeKeysOnly,
		},
		UserIdentity: &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
	}}
	got, err := eventJSON(recs, "arn:aws:dynamodb:us-east-1:1:table/t/stream/s")
	require.NoError(t, err)
	assert.JSONEq(t, `{"Records":[
	 {"awsRegion":"us-east-1","eventID":"e1","eventName":"MODIFY","eventSource":"aws:dynamodb","eventVersion":"1.1",
	  "eventSourceARN":"arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
	  "dynamodb":{"ApproximateCreationDateTime":1795000000,"Keys":{"pk":{"S":"a"}},
	   "NewImage":{"pk":{"S":"a"},"n":{"N":"1E+2"},"ns":{"NS":["0.10000000000000000001"]},"m":{"M":{"b":{"B":"AQ=="}}},"nul":{"NULL":true}},
	   "SequenceNumber":"000000000000000000042","SizeBytes":30,"StreamViewType":"NEW_IMAGE"}},
	 {"awsRegion":"","eventID":"","eventName":"REMOVE","eventSource":"aws:dynamodb","eventVersion":"1.1",
	  "eventSourceARN":"arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
	  "dynamodb":{"Keys":{"pk":{"S":"b"}},"SequenceNumber":"43","SizeBytes":0,"StreamViewType":"KEYS_ONLY"},
	  "userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}}]}`, string(got))

	_, err = eventJSON([]streamtypes.Record{{EventID: aws.String("x")}}, "arn")
	assert.ErrorContains(t, err, "no dynamodb section")
}

func TestFailedSeq(t *testing.T) {
	tests := map[string]struct {
		resp    string
		want    string
		wantErr bool
	}{
		"empty":          {resp: ``},
		"null":           {resp: `null`},
		"no failures":    {resp: `{"batchItemFailures":[]}`},
		"lowest wins":    {resp: `{"batchItemFailures":[{"itemIdentifier":"200"},{"itemIdentifier":"99"}]}`, want: "99"},
		"no identifier":  {resp: `{"batchItemFailures":[{}]}`, wantErr: true},
		"not a response": {resp: `[`, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := failedSeq([]byte(tt.resp))
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
