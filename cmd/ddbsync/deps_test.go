package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShippedBinaries_LinkNoTestCode checks that the shipped binaries (the
// CLI and the Lambda bootstrap) link neither the testing package nor a test
// harness or assertion library.
func TestShippedBinaries_LinkNoTestCode(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "github.com/ddbsync/ddbsync/cmd/ddbsync", "github.com/ddbsync/ddbsync/cmd/replicator").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/spf13/cobra", "the list is of the CLI's dependencies")
	harnesses := []string{
		"testing", "testing/", "github.com/stretchr/testify",
		"github.com/ddbsync/ddbsync/internal/motoserver", "github.com/ddbsync/ddbsync/internal/ddbstub",
		"github.com/ddbsync/ddbsync/internal/faultproxy", "github.com/ddbsync/ddbsync/internal/rie",
		"github.com/ddbsync/ddbsync/internal/chaos", "github.com/ddbsync/ddbsync/internal/tabletest",
		"github.com/ddbsync/ddbsync/internal/codestatus/codestatustest",
	}
	for _, dep := range deps {
		for _, h := range harnesses {
			if dep == h || strings.HasSuffix(h, "/") && strings.HasPrefix(dep, h) || strings.HasPrefix(dep, h+"/") {
				assert.Fail(t, "a shipped binary links test code", "%s (matches %s)", dep, h)
			}
		}
	}
}
