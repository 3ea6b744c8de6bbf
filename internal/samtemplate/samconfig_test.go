package samtemplate

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// samconfig is the part of samconfig.toml (version 0.1) the tests read:
// environment → command → parameters.
type samconfig struct {
	Version float64
	Envs    map[string]map[string]map[string]any
}

func loadSamconfig(tb testing.TB) samconfig {
	tb.Helper()
	var raw map[string]any
	_, err := toml.DecodeFile(filepath.Join(root, "samconfig.toml"), &raw)
	require.NoError(tb, err)
	cfg := samconfig{Envs: map[string]map[string]map[string]any{}}
	for k, v := range raw {
		if k == "version" {
			cfg.Version, _ = v.(float64)
			continue
		}
		env := map[string]map[string]any{}
		for cmd, section := range v.(map[string]any) {
			params, _ := section.(map[string]any)["parameters"].(map[string]any)
			env[cmd] = params
		}
		cfg.Envs[k] = env
	}
	return cfg
}

func TestSamconfig(t *testing.T) {
	cfg := loadSamconfig(t)
	assert.Equal(t, 0.1, cfg.Version)
	envs := map[string]string{ // environment → the template it deploys
		"default": templateFile, "dev": templateFile, "prod": templateFile,
		"queue-dev": queueTemplateFile, "queue-prod": queueTemplateFile,
	}
	var names []string
	for name := range cfg.Envs {
		names = append(names, name)
	}
	assert.ElementsMatch(t, names, []string{"default", "dev", "prod", "queue-dev", "queue-prod"})
	stacks := map[string]string{}
	for env, template := range envs {
		t.Run(env, func(t *testing.T) {
			tmpl := loadYAML(t, template)
			e, ok := cfg.Envs[env]
			require.True(t, ok, "environment %s", env)
			stack, _ := e["global"]["stack_name"].(string)
			assert.NotEmpty(t, stack, "global stack_name")
			assert.NotContains(t, stacks, stack, "stack names differ between environments")
			stacks[stack] = env

			build := e["build"]
			assert.Equal(t, true, build["cached"], "build cached")
			assert.Equal(t, true, build["parallel"], "build parallel")
			assert.Equal(t, true, build["build_in_source"],
				"sam build runs the Makefile in place: it never copies .local-aws/ (or anything) to a scratch directory")
			if template == templateFile {
				assert.Nil(t, build["template_file"])
			} else {
				assert.Equal(t, template, build["template_file"], "sam build builds the queue template")
				assert.Equal(t, template, e["validate"]["template_file"])
			}
			assert.Nil(t, e["global"]["template_file"], "sam deploy takes the built template, not the source")
			assert.Nil(t, e["deploy"]["template_file"], "sam deploy takes the built template, not the source")
			deploy := e["deploy"]
			assert.Equal(t, "CAPABILITY_IAM", deploy["capabilities"], "the stack creates an IAM role")
			assert.Equal(t, true, deploy["resolve_s3"], "SAM manages its artifact bucket")
			if env == "default" {
				assert.Equal(t, true, deploy["confirm_changeset"], "sam deploy --guided shows the change set")
				return // sam deploy --guided rewrites it, overrides as one string
			}
			assert.NotEmpty(t, deploy["region"], "the pipeline reads the region")
			assert.Equal(t, false, deploy["confirm_changeset"], "the pipeline cannot answer a prompt")
			assert.Nil(t, deploy["parameter_overrides"], "overrides are global: sam build must see the same Architecture")
			overrides, ok := e["global"]["parameter_overrides"].([]any)
			require.True(t, ok, "global parameter_overrides is a list, read by the pipeline")
			given := map[string]bool{}
			for _, o := range overrides {
				s, ok := o.(string)
				require.True(t, ok, "parameter_overrides holds strings: %v", o)
				checkOverride(t, tmpl, s)
				name, _, _ := strings.Cut(s, "=")
				given[name] = true
			}
			for _, p := range []string{"SourceStreamArn", "TargetTableName"} {
				if field(tmpl, "Parameters", p) != nil && field(tmpl, "Parameters", p, "Default") == nil {
					assert.True(t, given[p], "%s is required by %s", p, template)
				}
			}
		})
	}
}

// checkOverride checks one "Name=Value" override against the template's
// parameter: it exists, and accepts the value.
func checkOverride(tb testing.TB, tmpl *yaml.Node, override string) {
	tb.Helper()
	name, value, ok := strings.Cut(override, "=")
	require.True(tb, ok, "%q is Name=Value", override)
	assert.NotContains(tb, override, " ", "the pipeline passes each override as one argument")
	assert.NotEqual(tb, "CommitSha", name, "the pipeline adds CommitSha itself")
	p := field(tmpl, "Parameters", name)
	if !assert.NotNil(tb, p, "%s is not a template parameter", name) {
		return
	}
	if allowed := scalars(field(p, "AllowedValues")); allowed != nil {
		assert.Contains(tb, allowed, value, "%s", name)
	}
	if pat := field(p, "AllowedPattern"); pat != nil {
		assert.Regexp(tb, regexp.MustCompile(pat.Value), value, "%s", name)
	}
	if field(p, "Type").Value == "Number" {
		n, err := strconv.ParseFloat(value, 64)
		require.NoError(tb, err, "%s", name)
		if field(p, "MinValue") != nil {
			assert.GreaterOrEqual(tb, n, number(tb, p, "MinValue"), "%s", name)
		}
		if field(p, "MaxValue") != nil {
			assert.LessOrEqual(tb, n, number(tb, p, "MaxValue"), "%s", name)
		}
	}
}
