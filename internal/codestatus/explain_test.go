package codestatus

import (
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExplainDifference uses this test binary as a Go binary whose build
// information explainDifference can read.
func TestExplainDifference(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	bin, err := os.ReadFile(exe)
	require.NoError(t, err)
	otherArch := map[string]string{"arm64": "amd64"}[runtime.GOARCH]
	if otherArch == "" {
		otherArch = "arm64"
	}
	tests := map[string]struct {
		deployed, local []byte
		goarch          string
		want            string
	}{
		"not Go":          {deployed: []byte("#!/bin/sh"), local: bin, goarch: runtime.GOARCH, want: "the deployed bootstrap is not a Go binary"},
		"other target":    {deployed: bin, local: bin, goarch: otherArch, want: "the deployed bootstrap is built for linux/" + runtime.GOARCH + ", the function runs on ARCH (GOARCH " + otherArch + ")"},
		"only the hashes": {deployed: bin, local: append(append([]byte(nil), bin...), 0), goarch: runtime.GOARCH, want: "bootstrap sha256 deployed " + short(sha256Hex(bin))},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, explainDifference(tt.deployed, tt.local, "ARCH", tt.goarch), tt.want)
		})
	}
}
