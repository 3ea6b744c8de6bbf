package rules

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuleSet_SourceKey(t *testing.T) {
	src := item{"id": s("7"), "sk": s("a"), "tenant": s("acme"), "email": s("x@y")}
	tests := map[string]struct {
		rules    string
		names    []string
		target   item // nil: the source item through the rules
		want     item
		wantOK   bool
		wantPath []string
	}{
		"identity":               {rules: "", names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"id"}},
		"identity, two keys":     {rules: "", names: []string{"id", "sk"}, want: item{"id": s("7"), "sk": s("a")}, wantOK: true, wantPath: []string{"id", "sk"}},
		"no key rule, renamed":   {rules: `rules: [{rename: {id: order_id}}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"order_id"}},
		"renamed into a map":     {rules: `rules: [{key: {pk: 'id'}}, {rename: {id: meta.id}}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"meta.id"}},
		"renamed twice":          {rules: `rules: [{rename: {id: a}}, {rename: {a: b}}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"b"}},
		"key rule keeps id":      {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"id"}},
		"filter and exclude":     {rules: `rules: [{filter: 'tenant == "acme"'}, {exclude: [email]}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"id"}},
		"include keeps it":       {rules: `rules: [{include: [id, tenant]}]`, names: []string{"id"}, want: item{"id": s("7")}, wantOK: true, wantPath: []string{"id"}},
		"key rule, id excluded":  {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}, {exclude: [id]}]`, names: []string{"id"}},
		"include leaves it out":  {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}, {include: [pk, tenant]}]`, names: []string{"id"}},
		"set overwrites it":      {rules: `rules: [{set: {id: '"x"'}}]`, names: []string{"id"}},
		"key rule overwrites it": {rules: `rules: [{key: {id: 'tenant + "#" + id'}}]`, names: []string{"id"}},
		"rename onto it":         {rules: `rules: [{rename: {tenant: id}}]`, names: []string{"id"}},
		"one of two keys lost":   {rules: `rules: [{exclude: [sk]}]`, names: []string{"id", "sk"}},
		"target item lacks it": {rules: `rules: [{key: {pk: 'tenant + "#" + id'}}]`, names: []string{"id"},
			target: item{"pk": s("acme#7")}, wantPath: []string{"id"}},
		"not a key type in the target": {rules: "", names: []string{"id"}, target: item{"id": &types.AttributeValueMemberBOOL{Value: true}}, wantPath: []string{"id"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("t.yaml", []byte(tt.rules))
			require.NoError(t, err)
			target := tt.target
			if target == nil {
				_, out, keep, err := rs.Target(src, item{"id": src["id"]})
				require.NoError(t, err)
				require.True(t, keep)
				target = out
			}
			got, ok := rs.SourceKey(target, tt.names)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
			paths, pok := rs.SourceKeyPaths(tt.names)
			assert.Equal(t, tt.wantPath != nil, pok)
			assert.Equal(t, pok, rs.Reversible(tt.names))
			var ps []string
			for _, p := range paths {
				ps = append(ps, p.String())
			}
			assert.Equal(t, tt.wantPath, ps)
		})
	}
}

func TestRuleSet_UnfilteredKey(t *testing.T) {
	rs, err := Parse("t.yaml", []byte(`rules: [{filter: 'tenant == "acme"'}, {key: {pk: 'tenant + "#" + id'}}]`))
	require.NoError(t, err)
	globex := item{"id": s("7"), "tenant": s("globex")}
	_, _, keep, err := rs.Target(globex, item{"id": s("7")})
	require.NoError(t, err)
	assert.False(t, keep)
	k, err := rs.UnfilteredKey(globex, item{"id": s("7")})
	require.NoError(t, err)
	assert.Equal(t, item{"pk": s("globex#7")}, k)
}

func TestRuleSet_Fingerprint(t *testing.T) {
	base := "rules: [{filter: 'tenant == \"a\"'}, {exclude: [email]}, {key: {pk: 'tenant + id'}}]"
	fp := func(src string) string {
		rs, err := Parse("r.yaml", []byte(src))
		require.NoError(t, err)
		return rs.Fingerprint()
	}
	assert.Empty(t, fp(""), "identity")
	assert.Empty(t, fp("rules: []"), "identity")
	assert.NotEmpty(t, fp("ttl_deletes: skip"), "the TTL policy alone changes the copy")
	assert.Equal(t, fp(base), fp("# named\nrules: [{name: a, filter: 'tenant == \"a\"'}, {name: b, exclude: [email]}, {key: {pk: 'tenant + id'}}]"),
		"names, lines and comments aside")
	for name, other := range map[string]string{
		"another filter":     "rules: [{filter: 'tenant == \"b\"'}, {exclude: [email]}, {key: {pk: 'tenant + id'}}]",
		"another path":       "rules: [{filter: 'tenant == \"a\"'}, {exclude: [mail]}, {key: {pk: 'tenant + id'}}]",
		"another expression": "rules: [{filter: 'tenant == \"a\"'}, {exclude: [email]}, {key: {pk: 'id + tenant'}}]",
		"another order":      "rules: [{exclude: [email]}, {filter: 'tenant == \"a\"'}, {key: {pk: 'tenant + id'}}]",
		"ttl skip":           base + "\nttl_deletes: skip",
	} {
		assert.NotEqual(t, fp(base), fp(other), name)
	}
}
