package samtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvents_EnvJSON: events/env.json and events/env-local.json (sam local
// invoke -n, against AWS and against DynamoDB Local) name functions of the
// two templates, and only variables their Environment declares: sam local
// invoke overrides declared variables and ignores the rest.
func TestEvents_EnvJSON(t *testing.T) {
	for _, file := range []string{"env.json", "env-local.json"} {
		t.Run(file, func(t *testing.T) { checkEnvJSON(t, file) })
	}
}

func checkEnvJSON(t *testing.T, file string) {
	b, err := os.ReadFile(filepath.Join(root, "events", file))
	require.NoError(t, err)
	var env map[string]map[string]string
	require.NoError(t, json.Unmarshal(b, &env))
	require.NotEmpty(t, env)
	read := envVarsRead(t)
	for fn, vars := range env {
		var decl = field(loadYAML(t, templateFile), "Resources", fn, "Properties", "Environment", "Variables")
		if decl == nil {
			decl = field(loadYAML(t, queueTemplateFile), "Resources", fn, "Properties", "Environment", "Variables")
		}
		require.NotNil(t, decl, "%s is a function of template.yaml or template-queue.yaml", fn)
		for v := range vars {
			assert.NotNil(t, field(decl, v), "%s: %s is not declared in the template, so sam local invoke ignores it", fn, v)
			_, sdk := sdkEnvVars[v]
			assert.True(t, read[v] || sdk, "%s is not read by configFromEnv", v)
		}
	}
}

// TestTemplates_DynamoDBEndpoint: the functions that write to DynamoDB
// declare AWS_ENDPOINT_URL_DYNAMODB, empty (the SDK's default endpoint on
// AWS: cmd/replicator's TestEmptyEndpointVariable), so that sam local invoke
// -n events/env-local.json can set it.
func TestTemplates_DynamoDBEndpoint(t *testing.T) {
	for file, fns := range map[string][]string{templateFile: {"ReplicatorFunction"}, queueTemplateFile: {"ApplyFunction"}} {
		for _, fn := range fns {
			v := field(loadYAML(t, file), "Resources", fn, "Properties", "Environment", "Variables", "AWS_ENDPOINT_URL_DYNAMODB")
			if assert.NotNil(t, v, "%s %s declares AWS_ENDPOINT_URL_DYNAMODB", file, fn) {
				assert.Empty(t, v.Value, "%s %s: empty, so AWS uses its own endpoint", file, fn)
			}
		}
	}
}
