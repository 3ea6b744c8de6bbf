package replicate

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeImage_AllTypes(t *testing.T) {
	tests := map[string]struct {
		json string
		want types.AttributeValue
	}{
		"S":            {`{"S":"héllo"}`, &types.AttributeValueMemberS{Value: "héllo"}},
		"empty S":      {`{"S":""}`, &types.AttributeValueMemberS{Value: ""}},
		"N stays text": {`{"N":"-12345678901234567890.123456789E+10"}`, &types.AttributeValueMemberN{Value: "-12345678901234567890.123456789E+10"}},
		"N 38 digits":  {`{"N":"12345678901234567890123456789012345678"}`, &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"}},
		"N small":      {`{"N":"1E-130"}`, &types.AttributeValueMemberN{Value: "1E-130"}},
		"B":            {`{"B":"AAEC/w=="}`, &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}}},
		"empty B":      {`{"B":""}`, &types.AttributeValueMemberB{Value: []byte{}}},
		"BOOL":         {`{"BOOL":false}`, &types.AttributeValueMemberBOOL{Value: false}},
		"NULL":         {`{"NULL":true}`, &types.AttributeValueMemberNULL{Value: true}},
		"SS":           {`{"SS":["b","a"]}`, &types.AttributeValueMemberSS{Value: []string{"b", "a"}}},
		"NS":           {`{"NS":["1","2.5","-3E+2"]}`, &types.AttributeValueMemberNS{Value: []string{"1", "2.5", "-3E+2"}}},
		"BS":           {`{"BS":["AA==","AQ=="]}`, &types.AttributeValueMemberBS{Value: [][]byte{{0}, {1}}}},
		"empty L":      {`{"L":[]}`, &types.AttributeValueMemberL{Value: []types.AttributeValue{}}},
		"empty M":      {`{"M":{}}`, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}},
		"nested M and L": {
			`{"M":{"l":{"L":[{"N":"1"},{"M":{"b":{"B":"AQ=="},"ns":{"NS":["7"]}}},{"NULL":true}]}}}`,
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberN{Value: "1"},
					&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
						"b":  &types.AttributeValueMemberB{Value: []byte{1}},
						"ns": &types.AttributeValueMemberNS{Value: []string{"7"}},
					}},
					&types.AttributeValueMemberNULL{Value: true},
				}},
			}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeImage([]byte(`{"a":` + tt.json + `}`))
			require.NoError(t, err)
			assert.Equal(t, map[string]types.AttributeValue{"a": tt.want}, got)
		})
	}
}

func TestDecodeImage_Broken(t *testing.T) {
	tests := map[string]struct {
		image   string
		wantErr string
	}{
		"missing":             {``, "image is missing"},
		"null":                {`null`, "image is missing"},
		"empty":               {`{}`, "image is empty"},
		"not JSON":            {`{"a":`, "unexpected end of JSON input"},
		"not an object":       {`[1]`, "cannot unmarshal array"},
		"no type":             {`{"a":{}}`, `attribute "a": no type field`},
		"unknown type":        {`{"a":{"X":"1"}}`, `attribute "a": unknown type "X"`},
		"number not a number": {`{"a":{"N":"12abc"}}`, `attribute "a": number is not a decimal number`},
		"number empty":        {`{"a":{"N":""}}`, "number is not a decimal number"},
		"number bare exp":     {`{"a":{"N":"1e"}}`, "number is not a decimal number"},
		"number as JSON num":  {`{"a":{"N":12}}`, "expected NumberAttributeValue to be of type string"},
		"bad base64":          {`{"a":{"B":"%%%"}}`, "failed to base64 decode"},
		"NULL false":          {`{"a":{"NULL":false}}`, "NULL must be true"},
		"empty SS":            {`{"a":{"SS":[]}}`, "empty set"},
		"empty NS":            {`{"a":{"NS":[]}}`, "empty set"},
		"empty BS":            {`{"a":{"BS":[]}}`, "empty set"},
		"duplicate in BS":     {`{"a":{"BS":["AA==","AA=="]}}`, "duplicate members"},
		"bad number in NS":    {`{"a":{"NS":["1","x"]}}`, "number is not a decimal number"},
		"nested in list":      {`{"a":{"L":[{"S":"ok"},{"NS":[]}]}}`, `attribute "a": [1]: empty set`},
		"nested in map":       {`{"a":{"M":{"b":{"Q":true}}}}`, `attribute "a": ."b": unknown type "Q"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeImage([]byte(tt.image))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBadAttribute)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDecodeImage_NoValuesInErrors(t *testing.T) {
	_, err := DecodeImage([]byte(`{"card":{"N":"4111-1111-1111-1111"}}`))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "4111")
}

func TestKeyID(t *testing.T) {
	k1, ok := KeyID(map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
	})
	require.True(t, ok)
	k2, _ := KeyID(map[string]types.AttributeValue{
		"sk": &types.AttributeValueMemberN{Value: "1"}, "pk": &types.AttributeValueMemberS{Value: "a"},
	})
	assert.Equal(t, k1, k2, "attribute order does not matter")

	k3, _ := KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a\x00sk"}})
	assert.NotEqual(t, k1, k3)
	k4, _ := KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberB{Value: []byte("a")}})
	k5, _ := KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}})
	assert.NotEqual(t, k4, k5, "type is part of the identity")

	_, ok = KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberBOOL{Value: true}})
	assert.False(t, ok, "BOOL is not a key type")
	_, ok = KeyID(nil)
	assert.False(t, ok)
}

// TestKeyID_Injective is the regression test of two different composite
// keys that joined names and values with NUL bytes and got one KeyID, so
// that one of the two items was silently dropped from a batch.
func TestKeyID_Injective(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	a, okA := KeyID(map[string]types.AttributeValue{"pk": s("a\x00sk\x00S\x00b"), "sk": s("c")})
	b, okB := KeyID(map[string]types.AttributeValue{"pk": s("a"), "sk": s("b\x00sk\x00S\x00c")})
	require.True(t, okA)
	require.True(t, okB)
	assert.NotEqual(t, a, b)
}

// TestKeyID_Property checks on random keys, over an alphabet rich in the
// bytes an encoding could confuse, that two keys have the same KeyID exactly
// when they are the same key.
func TestKeyID_Property(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"", "a", "\x00", ":", "1", "S", "N", "B", "sk", "0", "é", "\x00S\x00"}
	word := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	value := func() types.AttributeValue {
		switch rng.IntN(3) {
		case 0:
			return &types.AttributeValueMemberS{Value: word()}
		case 1:
			return &types.AttributeValueMemberN{Value: word()}
		default:
			return &types.AttributeValueMemberB{Value: []byte(word())}
		}
	}
	key := func() map[string]types.AttributeValue {
		k := map[string]types.AttributeValue{}
		for range 1 + rng.IntN(2) {
			k[word()+"k"] = value()
		}
		return k
	}
	seen := map[string]map[string]types.AttributeValue{}
	for range 200_000 {
		k := key()
		id, ok := KeyID(k)
		require.True(t, ok)
		if prev, dup := seen[id]; dup {
			require.Equal(t, prev, k, "two different keys share the KeyID %q", id)
		}
		seen[id] = k
	}
	assert.Greater(t, len(seen), 10_000, "the generator makes many distinct keys")
}
