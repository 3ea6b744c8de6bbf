package tablespec

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/rules"
)

func key(n string, t types.KeyType) types.KeySchemaElement {
	return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
}

func attr(n string, t types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: t}
}

// onDemandSource is an on-demand table keyed pk (S), sk (N) with a GSI
// on email (S) projecting ALL, an LSI on pk and created (S) including
// note and secret, TTL on exp, KMS with a key and three tags.
func onDemandSource() Source {
	return Source{
		Table: &types.TableDescription{
			TableName:            aws.String("src"),
			AttributeDefinitions: []types.AttributeDefinition{attr("pk", "S"), attr("sk", "N"), attr("email", "S"), attr("created", "S")},
			KeySchema:            []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
			BillingModeSummary:   &types.BillingModeSummary{BillingMode: types.BillingModePayPerRequest},
			OnDemandThroughput:   &types.OnDemandThroughput{MaxReadRequestUnits: aws.Int64(100), MaxWriteRequestUnits: aws.Int64(-1)},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndexDescription{{IndexName: aws.String("by-email"),
				KeySchema: []types.KeySchemaElement{key("email", types.KeyTypeHash)}, Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
			LocalSecondaryIndexes: []types.LocalSecondaryIndexDescription{{IndexName: aws.String("by-created"),
				KeySchema:  []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("created", types.KeyTypeRange)},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"note", "secret"}}}},
			SSEDescription: &types.SSEDescription{SSEType: types.SSETypeKms, KMSMasterKeyArn: aws.String("arn:aws:kms:eu-west-1:111122223333:key/k")},
		},
		TTL:  &types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabled, AttributeName: aws.String("exp")},
		Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}, {Key: aws.String("team"), Value: aws.String("a")}},
	}
}

func TestDerive(t *testing.T) {
	tests := map[string]struct {
		rules    string
		opts     Options
		check    func(t *testing.T, s Spec)
		warnings []string
	}{
		"as it is": {
			check: func(t *testing.T, s Spec) {
				in := s.Create
				assert.Equal(t, types.BillingModePayPerRequest, in.BillingMode)
				assert.Nil(t, in.ProvisionedThroughput)
				assert.Equal(t, int64(100), aws.ToInt64(in.OnDemandThroughput.MaxReadRequestUnits))
				assert.Equal(t, []types.AttributeDefinition{attr("created", "S"), attr("email", "S"), attr("pk", "S"), attr("sk", "N")}, in.AttributeDefinitions)
				require.Len(t, in.GlobalSecondaryIndexes, 1)
				require.Len(t, in.LocalSecondaryIndexes, 1)
				assert.Equal(t, []string{"note", "secret"}, in.LocalSecondaryIndexes[0].Projection.NonKeyAttributes)
				assert.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}, in.Tags)
				assert.Equal(t, "exp", aws.ToString(s.TTL.TimeToLiveSpecification.AttributeName))
				assert.Nil(t, s.PITR)
				assert.Nil(t, in.StreamSpecification)
				assert.Equal(t, &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms}, in.SSESpecification)
			},
			warnings: []string{"the source is encrypted with the KMS key arn:aws:kms:eu-west-1:111122223333:key/k, which is not copied"},
		},
		"projection, GSI key and TTL dropped; sort key renamed": {
			rules: "rules:\n  - exclude: [email, secret, exp]\n  - rename: {sk: n, created: at}\n",
			opts:  Options{KMSKeyID: "alias/mine", Stream: types.StreamViewTypeNewImage},
			check: func(t *testing.T, s Spec) {
				in := s.Create
				assert.Equal(t, "n", aws.ToString(in.KeySchema[1].AttributeName))
				assert.Empty(t, in.GlobalSecondaryIndexes)
				require.Len(t, in.LocalSecondaryIndexes, 1)
				assert.Equal(t, []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("at", types.KeyTypeRange)}, in.LocalSecondaryIndexes[0].KeySchema)
				assert.Equal(t, []string{"note"}, in.LocalSecondaryIndexes[0].Projection.NonKeyAttributes)
				assert.Equal(t, []types.AttributeDefinition{attr("at", "S"), attr("n", "N"), attr("pk", "S")}, in.AttributeDefinitions)
				assert.Nil(t, s.TTL)
				assert.Equal(t, "alias/mine", aws.ToString(in.SSESpecification.KMSMasterKeyId))
				assert.Equal(t, types.StreamViewTypeNewImage, in.StreamSpecification.StreamViewType)
			},
			warnings: []string{
				"global secondary index by-email left out: the rules drop or change its key attribute email",
				"index by-created: projected attribute secret left out (the rules drop or change it)",
				"TTL not enabled: the rules drop or change the source's TTL attribute exp",
			},
		},
		"re-keyed: the LSI goes": {
			rules: "rules:\n  - key: {id: 'pk + \"/\" + string(sk)', n: 'sk'}\n",
			check: func(t *testing.T, s Spec) {
				assert.Equal(t, []types.KeySchemaElement{key("id", types.KeyTypeHash), key("n", types.KeyTypeRange)}, s.Create.KeySchema)
				assert.Contains(t, s.Create.AttributeDefinitions, attr("n", "N"), "sk as it is: its source type")
				assert.Contains(t, s.Create.AttributeDefinitions, attr("id", "S"), "a string expression")
				assert.Empty(t, s.Create.LocalSecondaryIndexes)
				assert.Len(t, s.Create.GlobalSecondaryIndexes, 1)
			},
			warnings: []string{"local secondary index by-created left out: its partition key pk is not the target table's partition key id"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := rules.Parse("test.yaml", []byte(tt.rules))
			require.NoError(t, err)
			opts := tt.opts
			opts.TargetTable, opts.Rules = "dst", rs
			s, err := Derive(onDemandSource(), opts)
			require.NoError(t, err)
			assert.Equal(t, "dst", aws.ToString(s.Create.TableName))
			tt.check(t, s)
			for _, w := range tt.warnings {
				found := false
				for _, got := range s.Warnings {
					found = found || len(got) >= len(w) && got[:len(w)] == w
				}
				assert.True(t, found, "warning %q in %q", w, s.Warnings)
			}
		})
	}
}

func TestDerive_KeyTypeUnknown(t *testing.T) {
	rs, err := rules.Parse("test.yaml", []byte("rules:\n  - key: {id: item.email}\n"))
	require.NoError(t, err)
	_, err = Derive(onDemandSource(), Options{TargetTable: "dst", Rules: rs})
	assert.ErrorIs(t, err, rules.ErrKeyType)
}
