package samtemplate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvents_EnvJSON: events/env.json (sam local invoke -n) names functions
// of the two templates, and only variables their Environment declares:
// sam local invoke overrides declared variables and ignores the rest.
func TestEvents_EnvJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
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
			assert.True(t, read[v], "%s is not read by configFromEnv", v)
		}
	}
}
