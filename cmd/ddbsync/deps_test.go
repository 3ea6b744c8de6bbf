package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/ddbsync/ddbsync"

// harnessOf returns the test code that dep is, or "": the testing package,
// an assertion library, a package of internal/localaws (the local AWS
// stand-ins and the test kit) other than those allowed, a *test package, or
// the chaos suite.
func harnessOf(dep string, allowed []string) string {
	for _, a := range allowed {
		if dep == a {
			return ""
		}
	}
	switch {
	case dep == "testing" || strings.HasPrefix(dep, "testing/"):
		return "the testing package"
	case strings.HasPrefix(dep, "github.com/stretchr/testify"):
		return "an assertion library"
	case strings.HasPrefix(dep, module+"/internal/localaws/"):
		return "a local AWS stand-in or the test kit"
	case strings.HasPrefix(dep, module+"/internal/chaos"):
		return "the chaos suite"
	case strings.HasPrefix(dep, module+"/") && strings.HasSuffix(dep, "test"):
		return "a test helper package"
	}
	return ""
}

func TestHarnessOf(t *testing.T) {
	cli := []string{module + "/internal/localaws/ddblocal"}
	tests := map[string]struct {
		dep, want string
		allowed   []string
	}{
		"testing":            {dep: "testing", want: "the testing package"},
		"testing/fstest":     {dep: "testing/fstest", want: "the testing package"},
		"testify":            {dep: "github.com/stretchr/testify/require", want: "an assertion library"},
		"testkit":            {dep: module + "/internal/localaws/testkit", want: "a local AWS stand-in or the test kit", allowed: cli},
		"moto":               {dep: module + "/internal/localaws/moto", want: "a local AWS stand-in or the test kit", allowed: cli},
		"ddblocal, refused":  {dep: module + "/internal/localaws/ddblocal", want: "a local AWS stand-in or the test kit"},
		"ddblocal, allowed":  {dep: module + "/internal/localaws/ddblocal", allowed: cli},
		"xtest package":      {dep: module + "/internal/replicate/replicatetest", want: "a test helper package"},
		"chaos":              {dep: module + "/internal/chaos", want: "the chaos suite"},
		"product":            {dep: module + "/internal/replicate"},
		"product, like test": {dep: "github.com/other/latest"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, harnessOf(tt.dep, tt.allowed))
		})
	}
}

// TestShippedBinaries_LinkNoTestCode checks with go list -deps that the
// shipped binaries (the CLI, the Lambda bootstrap, the export worker) link
// no test code. The one exception: the CLI links the DynamoDB Local
// launcher (and its process package) for `ddbsync local ddb` and `ddbsync
// demo`, which start DynamoDB Local for the user; neither imports testing.
func TestShippedBinaries_LinkNoTestCode(t *testing.T) {
	launcher := []string{module + "/internal/localaws/ddblocal", module + "/internal/localaws/proc"}
	tests := map[string]struct {
		pkg     string
		allowed []string
		sample  string // a dependency that shows the list is the binary's
	}{
		"cli":          {pkg: module + "/cmd/ddbsync", allowed: launcher, sample: "github.com/spf13/cobra"},
		"bootstrap":    {pkg: module + "/cmd/replicator", sample: "github.com/aws/aws-lambda-go/lambda"},
		"exportworker": {pkg: module + "/cmd/exportworker", sample: "github.com/aws/aws-lambda-go/lambda"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", tt.pkg).CombinedOutput()
			require.NoError(t, err, "%s", out)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, tt.sample, "the list is of the binary's dependencies")
			for _, dep := range deps {
				if what := harnessOf(dep, tt.allowed); what != "" {
					assert.Fail(t, "a shipped binary links test code", "%s links %s (%s)", tt.pkg, dep, what)
				}
			}
		})
	}
}
