package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    Config
		wantVar string
	}{
		"defaults": {
			env:  map[string]string{"TARGET_TABLE_NAME": "copy"},
			want: Config{TargetTable: "copy", Concurrency: 4, StopMargin: DefaultStopMargin},
		},
		"everything": {
			env: map[string]string{"TARGET_TABLE_NAME": "copy", "TARGET_REGION": "eu-west-1", "WRITE_CONCURRENCY": "8",
				"WRITE_MAX_ATTEMPTS": "5", "RETRY_BASE_DELAY_MS": "10", "RETRY_MAX_DELAY_MS": "900", "STOP_MARGIN_MS": "5000", "S3_USE_PATH_STYLE": "true"},
			want: Config{TargetTable: "copy", TargetRegion: "eu-west-1", Concurrency: 8, MaxAttempts: 5, BaseDelay: 10 * time.Millisecond,
				MaxDelay: 900 * time.Millisecond, StopMargin: 5 * time.Second, S3PathStyle: true},
		},
		"no table":                  {env: map[string]string{}, wantVar: "TARGET_TABLE_NAME"},
		"bad concurrency":           {env: map[string]string{"TARGET_TABLE_NAME": "t", "WRITE_CONCURRENCY": "0"}, wantVar: "WRITE_CONCURRENCY"},
		"too much concurrency":      {env: map[string]string{"TARGET_TABLE_NAME": "t", "WRITE_CONCURRENCY": "65"}, wantVar: "WRITE_CONCURRENCY"},
		"bad path style":            {env: map[string]string{"TARGET_TABLE_NAME": "t", "S3_USE_PATH_STYLE": "maybe"}, wantVar: "S3_USE_PATH_STYLE"},
		"rules without source keys": {env: map[string]string{"TARGET_TABLE_NAME": "t", "RULES": `{"rules":[{"exclude":["email"]}]}`}, wantVar: "SOURCE_KEYS"},
		"invalid rules":             {env: map[string]string{"TARGET_TABLE_NAME": "t", "RULES": `{"rules":[{"odd":1}]}`, "SOURCE_KEYS": "id"}, wantVar: "RULES"},
		"rules and a rules file":    {env: map[string]string{"TARGET_TABLE_NAME": "t", "RULES": "{}", "RULES_FILE": "r.yaml"}, wantVar: "RULES_FILE"},
		"rules file missing":        {env: map[string]string{"TARGET_TABLE_NAME": "t", "RULES_FILE": "none.yaml", "LAMBDA_TASK_ROOT": "/nonexistent"}, wantVar: "RULES_FILE"},
		"three source keys":         {env: map[string]string{"TARGET_TABLE_NAME": "t", "SOURCE_KEYS": "a,b,c"}, wantVar: "SOURCE_KEYS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantVar != "" {
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.wantVar, ce.Var)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConfigFromEnv_Rules(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "rules.yaml"), []byte("rules:\n  - exclude: [email]\n"), 0o600))
	const inline = `{"rules":[{"exclude":["email"]}]}`
	tests := map[string]map[string]string{
		"inline":            {"RULES": inline},
		"base64":            {"RULES": base64.StdEncoding.EncodeToString([]byte(inline))},
		"file in task root": {"RULES_FILE": "rules.yaml", "LAMBDA_TASK_ROOT": root},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			env["TARGET_TABLE_NAME"], env["SOURCE_KEYS"] = "copy", "pk, sk"
			got, err := configFromEnv(func(k string) string { return env[k] })
			require.NoError(t, err)
			require.NotNil(t, got.Rules)
			assert.Len(t, got.Rules.Rules, 1)
			assert.Equal(t, []string{"pk", "sk"}, got.SourceKeys)
		})
	}
}
