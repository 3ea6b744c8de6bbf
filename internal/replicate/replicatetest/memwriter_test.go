package replicatetest_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

func memTarget(m *replicatetest.MemWriter) replicatetest.Target {
	return replicatetest.Target{Writer: m, Get: func(_ *testing.T, key replicatetest.Item) replicatetest.Item { return m.Get(key) }}
}

func TestMemWriter_Contract(t *testing.T) {
	replicatetest.RunWriterContract(t, func(*testing.T) replicatetest.Target { return memTarget(replicatetest.NewMemWriter()) })
}

func TestGuardedMemWriter_Contract(t *testing.T) {
	replicatetest.RunWriterContract(t, func(*testing.T) replicatetest.Target { return memTarget(replicatetest.NewGuardedMemWriter()) })
	replicatetest.RunGuardContract(t, func(*testing.T) replicatetest.Target { return memTarget(replicatetest.NewGuardedMemWriter()) })
}
