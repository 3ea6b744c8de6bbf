package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

func TestRulesFlag_Load(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("rules:\n  - exclude: [email]\n"), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("rules:\n  - name: broken\n    filter: 'tenant =='\n"), 0o600))

	rs, err := rulesFlag{}.load()
	require.NoError(t, err)
	assert.True(t, rs.IsIdentity(), "no --rules copies items as they are")

	rs, err = rulesFlag{RulesFile: good}.load()
	require.NoError(t, err)
	assert.False(t, rs.IsIdentity())

	_, err = rulesFlag{RulesFile: bad}.load()
	require.ErrorIs(t, err, rules.ErrInvalid)
	assert.ErrorContains(t, err, "broken")
	var usage *usageError
	assert.ErrorAs(t, err, &usage)

	_, err = rulesFlag{RulesFile: filepath.Join(dir, "missing.yaml")}.load()
	var usage2 *usageError
	assert.ErrorAs(t, err, &usage2)
}

func TestPlanLines(t *testing.T) {
	src := tablesync.TableInfo{Keys: []string{"z", "a"}, KeyTypes: []types.ScalarAttributeType{"S", "N"}}
	tests := map[string]struct {
		rules string
		dst   tablesync.TableInfo
		want  []string
	}{
		"identity": {rules: "", dst: src},
		"filter only, keys in any order": {rules: `rules: [{filter: 'a > 1'}]`, dst: src,
			want: []string{"r.yaml, 1 rules, applied to every item on its way to the target (ddbsync rules check r.yaml lists them)"}},
		"re-keyed": {rules: `rules: [{key: {pk: 'string(a) + z'}}]`, dst: tablesync.TableInfo{Keys: []string{"pk"}, KeyTypes: []types.ScalarAttributeType{"S"}},
			want: []string{"r.yaml, 1 rules, applied to every item on its way to the target (ddbsync rules check r.yaml lists them)",
				"target key schema [pk (S)], re-keyed from the source's [z (S), a (N)]"}},
		"source key dropped": {rules: `rules: [{key: {pk: 'string(a) + z'}}, {exclude: [z]}]`, dst: tablesync.TableInfo{Keys: []string{"pk"}},
			want: []string{"r.yaml, 2 rules, applied to every item on its way to the target (ddbsync rules check r.yaml lists them)",
				"target key schema [pk], re-keyed from the source's [z (S), a (N)]",
				"the rules do not carry the source key into target items: verify holds the expected target keys in memory " +
					"(about 120 bytes plus the keys' sizes per item), and repair leaves target items it cannot trace to a source item"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := rules.Parse("r.yaml", []byte(tt.rules))
			require.NoError(t, err)
			assert.Equal(t, tt.want, planLines(rs, src, tt.dst))
		})
	}
}
