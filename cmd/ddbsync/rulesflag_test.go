package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/rules"
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
