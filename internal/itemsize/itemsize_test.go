package itemsize

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
)

// TestOf: the sizes DynamoDB documents; tablesync's TestItemSize checks
// the capacity units built on them.
func TestOf(t *testing.T) {
	tests := map[string]struct {
		item map[string]types.AttributeValue
		want int
	}{
		"empty":              {item: map[string]types.AttributeValue{}, want: 0},
		"name and string":    {item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "abc"}}, want: 5},
		"38-digit number":    {item: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-" + strings.Repeat("9", 38)}}, want: 1 + 20},
		"number with a sign": {item: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "-1.5E-3"}}, want: 1 + 2},
		"number set":         {item: map[string]types.AttributeValue{"ns": &types.AttributeValueMemberNS{Value: []string{"1", "22"}}}, want: 2 + 2 + 2},
		"binary set":         {item: map[string]types.AttributeValue{"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}}, want: 2 + 3},
		"nested map in list": {item: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberBOOL{Value: true}}}}}}, want: 1 + 3 + 1 + (3 + 1 + 1 + 1)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, Of(tt.item))
		})
	}
}
