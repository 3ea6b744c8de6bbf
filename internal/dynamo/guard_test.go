package dynamo

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo/dynamotest"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/retry"
)

func TestPadSeq(t *testing.T) {
	tests := map[string]struct {
		seq, want, wantErr string
	}{
		"short":        {seq: "42", want: strings.Repeat("0", SeqWidth-2) + "42"},
		"leading zero": {seq: "0042", want: strings.Repeat("0", SeqWidth-2) + "42"},
		"40 digits":    {seq: strings.Repeat("9", 40), want: "00000000" + strings.Repeat("9", 40)},
		"too long":     {seq: "1" + strings.Repeat("0", SeqWidth), wantErr: "sequence number too long"},
		"not digits":   {seq: "12a", wantErr: "invalid sequence number"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := PadSeq(tt.seq)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Len(t, got, SeqWidth)
		})
	}
	// Padded strings order like the integers, beyond 38 digits.
	a, _ := PadSeq(strings.Repeat("9", 39))
	b, _ := PadSeq("1" + strings.Repeat("0", 39))
	assert.Less(t, a, b)
}

// guardTable returns an in-memory target keyed by pk whose first call is
// throttled when throttle is set.
func guardTable(throttle bool) *dynamotest.MemTable {
	fake := dynamotest.NewMemTable("target", "pk")
	fake.Inject = func(_ string, call int) error {
		if throttle && call == 1 {
			return apiErr("ProvisionedThroughputExceededException")
		}
		return nil
	}
	return fake
}

// seqOf returns the stored seq attribute of pk's item, "" if none.
func seqOf(fake *dynamotest.MemTable, pk string) string {
	v, _ := fake.Get(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}})["_seq"].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// tombstones returns the items holding the deleted marker _gone, by pk.
func tombstones(fake *dynamotest.MemTable) map[string]map[string]types.AttributeValue {
	out := map[string]map[string]types.AttributeValue{}
	for _, it := range fake.Items() {
		if _, ok := it["_gone"]; ok {
			out[it["pk"].(*types.AttributeValueMemberS).Value] = it
		}
	}
	return out
}

func guardWrite(op replicate.Op, pk, seq string) replicate.Write {
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
	w := replicate.Write{Op: op, Key: key, Seq: seq}
	if op == replicate.OpPut {
		w.Item = map[string]types.AttributeValue{"pk": key["pk"], "v": &types.AttributeValueMemberS{Value: seq}}
	}
	return w
}

func TestSeqGuard_WriteBatch(t *testing.T) {
	big := "1" + strings.Repeat("0", 39) // 40 digits, more than a DynamoDB number holds
	fake := guardTable(true)
	now := time.Unix(1_000_000, 0)
	names := replattr.Names{Seq: "_seq", Deleted: "_gone", Expires: "_ttl"}
	g := NewSeqGuard(NewTable(fake, "target", Options{Retry: retry.Policy{BaseDelay: time.Microsecond, MaxDelay: time.Millisecond}}), names,
		GuardOptions{TombstoneRetention: time.Hour, Now: func() time.Time { return now }})
	assert.Equal(t, names, g.Names())

	errs, retries := g.WriteBatch(t.Context(), []replicate.Write{guardWrite(replicate.OpPut, "a", big), guardWrite(replicate.OpPut, "b", "5")})
	assert.Nil(t, errs)
	assert.Equal(t, 1, retries, "throttled once")
	padded, _ := PadSeq(big)
	assert.Equal(t, padded, seqOf(fake, "a"))

	// Older and equal changes are stale: skipped, not failed.
	errs, _ = g.WriteBatch(t.Context(), []replicate.Write{
		guardWrite(replicate.OpPut, "a", strings.Repeat("9", 39)), guardWrite(replicate.OpPut, "b", "5"), guardWrite(replicate.OpDelete, "b", "4"),
	})
	assert.Nil(t, errs)
	assert.Equal(t, padded, seqOf(fake, "a"))
	assert.NotEmpty(t, seqOf(fake, "b"))
	assert.Empty(t, tombstones(fake))

	// A newer delete applies: it leaves a tombstone of the key, the seq,
	// the deleted marker and the expiry.
	errs, _ = g.WriteBatch(t.Context(), []replicate.Write{guardWrite(replicate.OpDelete, "b", "6")})
	assert.Nil(t, errs)
	six, _ := PadSeq("6")
	assert.Equal(t, map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "b"}, "_seq": &types.AttributeValueMemberS{Value: six},
		"_gone": &types.AttributeValueMemberBOOL{Value: true}, "_ttl": &types.AttributeValueMemberN{Value: "1003600"},
	}, tombstones(fake)["b"])

	// An older put after it is stale; a newer one replaces the tombstone.
	errs, _ = g.WriteBatch(t.Context(), []replicate.Write{guardWrite(replicate.OpPut, "b", "5")})
	assert.Nil(t, errs)
	assert.Contains(t, tombstones(fake), "b")
	errs, _ = g.WriteBatch(t.Context(), []replicate.Write{guardWrite(replicate.OpPut, "b", "7")})
	assert.Nil(t, errs)
	assert.NotContains(t, tombstones(fake), "b")

	// A sequence number that cannot be padded fails its write only.
	errs, _ = g.WriteBatch(t.Context(), []replicate.Write{guardWrite(replicate.OpPut, "c", "x"), guardWrite(replicate.OpPut, "d", "7")})
	require.Len(t, errs, 2)
	assert.ErrorContains(t, errs[0], "invalid sequence number")
	assert.NoError(t, errs[1])
	for _, c := range fake.Conditions() {
		assert.Equal(t, guardCondition, c, "every write is guarded")
	}
}

func TestNewSeqGuard_Defaults(t *testing.T) {
	g := NewSeqGuard(NewTable(guardTable(false), "t", Options{}), replattr.Names{}, GuardOptions{})
	assert.Equal(t, replattr.Names{}.WithDefaults(), g.Names())
	assert.Equal(t, DefaultSeqAttribute, g.Names().Seq)
	assert.Equal(t, DefaultTombstoneRetention, g.retention)
	assert.NotNil(t, g.now)
}
