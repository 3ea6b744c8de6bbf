package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddblocal"
)

func TestRepairCommand_BadInput(t *testing.T) {
	keyID := ddblocal.AccessKeyID(t)
	syncTables(t, keyID, 1, false)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"kind":"missing","key":{"id":{"S":"order-000"}}}`+"\nnot json\n"), 0o600))
	code, _, stderr := localCmd(t, keyID, "repair", "--table", "orders", "--target-table", "orders-copy", "--from", bad)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "read differences line 2: malformed difference")
}
