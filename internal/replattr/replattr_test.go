package replattr_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/replattr"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestVisible(t *testing.T) {
	n := replattr.Names{}
	plain := map[string]types.AttributeValue{"pk": s("a"), "v": s("1")}
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		want map[string]types.AttributeValue
	}{
		{"none", nil, nil},
		{"plain item unchanged", plain, plain},
		{"seq stripped", map[string]types.AttributeValue{"pk": s("a"), "v": s("1"), "_ddbsync_seq": s("0010")}, plain},
		{"own TTL attribute kept", map[string]types.AttributeValue{"pk": s("a"), "_ddbsync_expires": &types.AttributeValueMemberN{Value: "5"}},
			map[string]types.AttributeValue{"pk": s("a"), "_ddbsync_expires": &types.AttributeValueMemberN{Value: "5"}}},
		{"tombstone is no item", map[string]types.AttributeValue{"pk": s("a"), "_ddbsync_seq": s("0020"),
			"_ddbsync_deleted": &types.AttributeValueMemberBOOL{Value: true}, "_ddbsync_expires": &types.AttributeValueMemberN{Value: "9"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, n.Visible(tt.item))
		})
	}
}

func TestNamesConfigured(t *testing.T) {
	n := replattr.Names{Seq: "ver", Deleted: "gone", Expires: "ttl"}
	assert.Equal(t, []string{"ver", "gone", "ttl"}, n.List())
	assert.Equal(t, []string{"_ddbsync_seq", "_ddbsync_deleted", "_ddbsync_expires"}, replattr.Names{}.List())
	item := map[string]types.AttributeValue{"pk": s("a"), "ver": s("7"), "_ddbsync_seq": s("x")}
	assert.Equal(t, map[string]types.AttributeValue{"pk": s("a"), "_ddbsync_seq": s("x")}, n.Visible(item))
	assert.Equal(t, "7", n.SeqOf(item))
	assert.True(t, n.IsTombstone(map[string]types.AttributeValue{"pk": s("a"), "gone": &types.AttributeValueMemberBOOL{Value: true}}))
	assert.False(t, n.IsTombstone(item))
}

func TestTombstone(t *testing.T) {
	n := replattr.Names{}
	key := map[string]types.AttributeValue{"pk": s("a")}
	ts := n.Tombstone(key, "0020", time.Unix(1700000000, 0))
	assert.Equal(t, map[string]types.AttributeValue{
		"pk": s("a"), "_ddbsync_seq": s("0020"), "_ddbsync_deleted": &types.AttributeValueMemberBOOL{Value: true},
		"_ddbsync_expires": &types.AttributeValueMemberN{Value: "1700000000"},
	}, ts)
	assert.True(t, n.IsTombstone(ts))
	assert.Nil(t, n.Visible(ts))
	assert.Equal(t, "0020", n.SeqOf(ts))
	assert.Len(t, key, 1, "the key is not changed")
}
