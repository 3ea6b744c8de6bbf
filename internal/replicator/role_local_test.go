package replicator_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicator"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// tableOnAssume passes AssumeRole to moto_server and, before returning the
// session, creates the target table in the DynamoDB Local database of the
// session's access key id (DynamoDB Local keeps one database per key id).
type tableOnAssume struct {
	sts  *sts.Client
	ddb  *ddblocal.Server
	mu   sync.Mutex
	keys []string
}

func (a *tableOnAssume) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	out, err := a.sts.AssumeRole(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	key := aws.ToString(out.Credentials.AccessKeyId)
	a.mu.Lock()
	a.keys = append(a.keys, key)
	a.mu.Unlock()
	_, err = a.ddb.DynamoDB(key).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("copy"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	return out, err
}

// TestNew_TargetRole_DynamoDBLocal: items written with the assumed role
// land in that session's database, and none in the function's own.
func TestNew_TargetRole_DynamoDBLocal(t *testing.T) {
	moto, ddb := testkit.Moto(t), testkit.DDB(t)
	own := testkit.NewAccessKeyID(t)
	awsCfg := ddb.AWSConfig(own)
	assume := &tableOnAssume{ddb: ddb, sts: sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(moto) })}

	h, err := replicator.New(awsCfg, replicator.Config{Mode: replicator.ModeApply, TargetTable: "copy", Endpoint: ddb.Endpoint,
		TargetRole: dynamo.Role{ARN: "arn:aws:iam::111122223333:role/ddbsync-target", ExternalID: "orders-2026", STS: assume}})
	require.NoError(t, err)
	out, err := h.Invoke(t.Context(), readEvent(t, "insert.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))

	require.Len(t, assume.keys, 1, "one session for the whole batch")
	scan, err := ddb.DynamoDB(assume.keys[0]).Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String("copy")})
	require.NoError(t, err)
	assert.NotZero(t, scan.Count, "the item is in the assumed role's database")
	_, err = ddb.DynamoDB(own).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("copy")})
	assert.Error(t, err, "nothing in the function's own database")
}
