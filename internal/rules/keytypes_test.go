package rules

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuleSet_TargetKeyTypes(t *testing.T) {
	src := map[string]types.ScalarAttributeType{"pk": types.ScalarAttributeTypeS, "sk": types.ScalarAttributeTypeN}
	tests := map[string]struct {
		rules    string
		override map[string]types.ScalarAttributeType
		want     map[string]types.ScalarAttributeType
		wantErr  string
	}{
		"identity":        {rules: "", want: src},
		"renamed key":     {rules: "rules:\n  - rename: {pk: id}\n", want: map[string]types.ScalarAttributeType{"id": "S", "sk": "N"}},
		"string key rule": {rules: "rules:\n  - key: {tpk: 'tenant + \"#\" + pk'}\n", want: map[string]types.ScalarAttributeType{"tpk": "S"}},
		"string() of a number": {rules: "rules:\n  - key: {tpk: 'string(sk)', tsk: 'sk * 2'}\n",
			want: map[string]types.ScalarAttributeType{"tpk": "S", "tsk": "N"}},
		"bytes":            {rules: "rules:\n  - key: {b: 'bytes(pk)'}\n", want: map[string]types.ScalarAttributeType{"b": "B"}},
		"double":           {rules: "rules:\n  - key: {d: 'double(sk)'}\n", want: map[string]types.ScalarAttributeType{"d": "N"}},
		"dyn needs a flag": {rules: "rules:\n  - key: {pk: 'item.tenant'}\n", wantErr: "key pk = item.tenant is of type dyn (it may be a string, a number or bytes): give it with --key-type pk=S|N|B"},
		"dyn with a flag": {rules: "rules:\n  - key: {pk: 'item.tenant'}\n", override: map[string]types.ScalarAttributeType{"pk": "S"},
			want: map[string]types.ScalarAttributeType{"pk": "S"}},
		"a source key attribute as it is": {rules: "rules:\n  - key: {id: 'item.sk', p: pk}\n",
			want: map[string]types.ScalarAttributeType{"id": "N", "p": "S"}},
		"a source key attribute changed earlier": {rules: "rules:\n  - set: {sk: '\"x\"'}\n  - key: {id: sk}\n", wantErr: "key id = sk is of type dyn"},
		"bool is no key":                         {rules: "rules:\n  - key: {pk: 'has(item.x)'}\n", wantErr: "is a bool, not a string, number or bytes"},
		"override rename": {rules: "rules:\n  - rename: {sk: n}\n", override: map[string]types.ScalarAttributeType{"n": "S"},
			want: map[string]types.ScalarAttributeType{"pk": "S", "n": "S"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("test.yaml", []byte(tt.rules))
			require.NoError(t, err)
			got, err := rs.TargetKeyTypes(src, tt.override)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrKeyType)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRuleSet_TargetKeySchema(t *testing.T) {
	src := []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}}
	tests := map[string]struct {
		rules string
		want  []string
	}{
		"identity": {"", []string{"pk HASH", "sk RANGE"}},
		"renamed":  {"rules:\n  - rename: {sk: created}\n", []string{"pk HASH", "created RANGE"}},
		"key rule": {"rules:\n  - key: {tpk: 'pk + \"#\"', tsk: 'string(sk)'}\n", []string{"tpk HASH", "tsk RANGE"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("test.yaml", []byte(tt.rules))
			require.NoError(t, err)
			var got []string
			for _, e := range rs.TargetKeySchema(src) {
				got = append(got, aws.ToString(e.AttributeName)+" "+string(e.KeyType))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRuleSet_TargetAttribute(t *testing.T) {
	rules := `rules:
  - filter: 'tenant == "acme"'
  - exclude: [email, address.street]
  - rename: {status: state, nested: box.inner, gone: tenant}
  - set: {total_cents: "total * 100"}
  - include: [state, g, address, total_cents, tenant, keep, box]
`
	rs, err := Parse("test.yaml", []byte(rules))
	require.NoError(t, err)
	tests := map[string]struct {
		want string
		ok   bool
	}{
		"g":           {"g", true},
		"status":      {"state", true},
		"email":       {"", false}, // excluded
		"address":     {"", false}, // part of it excluded
		"nested":      {"", false}, // moved into a map
		"tenant":      {"", false}, // overwritten by a rename
		"total_cents": {"", false}, // computed
		"other":       {"", false}, // not included
		"keep":        {"keep", true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := rs.TargetAttribute(name)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestRuleSet_TargetKeyTypes_KeyLost: a target key attribute that the
// rules drop, move or compute (without a key rule, or after it) is an
// error, not a table that no copied item fits.
func TestRuleSet_TargetKeyTypes_KeyLost(t *testing.T) {
	src := map[string]types.ScalarAttributeType{"pk": types.ScalarAttributeTypeS, "sk": types.ScalarAttributeTypeN}
	tests := map[string]struct {
		rules   string
		wantErr string
	}{
		"excluded":               {rules: "rules:\n  - exclude: [sk]\n", wantErr: "the rules drop, move or change the source key attribute sk"},
		"not included":           {rules: "rules:\n  - include: [pk, a]\n", wantErr: "source key attribute sk"},
		"moved into a map":       {rules: "rules:\n  - rename: {sk: meta.sk}\n", wantErr: "source key attribute sk"},
		"computed":               {rules: "rules:\n  - set: {sk: 'string(sk)'}\n", wantErr: "source key attribute sk"},
		"excluded after the key": {rules: "rules:\n  - key: {id: 'pk + \"#\"'}\n  - exclude: [id]\n", wantErr: "target key attribute id"},
		"renamed after the key":  {rules: "rules:\n  - key: {id: 'pk + \"#\"'}\n  - rename: {id: other}\n", wantErr: "target key attribute id"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("test.yaml", []byte(tt.rules))
			require.NoError(t, err)
			_, err = rs.TargetKeyTypes(src, map[string]types.ScalarAttributeType{"sk": "S", "id": "S"})
			require.ErrorIs(t, err, ErrKeyLost)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
