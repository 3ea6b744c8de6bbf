package main

import (
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
		"no table":             {env: map[string]string{}, wantVar: "TARGET_TABLE_NAME"},
		"bad concurrency":      {env: map[string]string{"TARGET_TABLE_NAME": "t", "WRITE_CONCURRENCY": "0"}, wantVar: "WRITE_CONCURRENCY"},
		"too much concurrency": {env: map[string]string{"TARGET_TABLE_NAME": "t", "WRITE_CONCURRENCY": "65"}, wantVar: "WRITE_CONCURRENCY"},
		"bad path style":       {env: map[string]string{"TARGET_TABLE_NAME": "t", "S3_USE_PATH_STYLE": "maybe"}, wantVar: "S3_USE_PATH_STYLE"},
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
