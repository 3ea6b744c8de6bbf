package main

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicator"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
)

func TestConfigFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		want    Config
		wantErr []string
	}{
		"defaults": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy"},
			want: Config{TargetTable: "orders-copy", SeqAttribute: "_ddbsync_seq", Concurrency: 32,
				TombstoneAttribute: "_ddbsync_deleted", TombstoneTTLAttribute: "_ddbsync_expires", TombstoneRetention: 15 * 24 * time.Hour, MaxAttempts: 10,
				BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second, DeadlineMargin: time.Second},
		},
		"everything set": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_REGION": "eu-west-1", "WRITE_CONCURRENCY": "4",
				"WRITE_MAX_ATTEMPTS": "3", "RETRY_BASE_DELAY_MS": "10", "RETRY_MAX_DELAY_MS": "500", "DEADLINE_MARGIN_MS": "250",
				"TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:orders.fifo", "SEQ_ATTRIBUTE": "replSeq",
				"TOMBSTONE_ATTRIBUTE": "gone", "TOMBSTONE_TTL_ATTRIBUTE": "ttl", "TOMBSTONE_RETENTION": "30d"},
			want: Config{TargetTable: "orders-copy", TargetRegion: "eu-west-1", TopicARN: "arn:aws:sns:eu-west-1:123456789012:orders.fifo",
				SeqAttribute: "replSeq", TombstoneAttribute: "gone", TombstoneTTLAttribute: "ttl", TombstoneRetention: 30 * 24 * time.Hour,
				Concurrency: 4, MaxAttempts: 3,
				BaseDelay: 10 * time.Millisecond, MaxDelay: 500 * time.Millisecond, DeadlineMargin: 250 * time.Millisecond},
		},
		"publish mode only": {
			env: map[string]string{"TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:changes.fifo"},
			want: Config{TopicARN: "arn:aws:sns:us-east-1:123456789012:changes.fifo", SeqAttribute: "_ddbsync_seq", Concurrency: 32,
				TombstoneAttribute: "_ddbsync_deleted", TombstoneTTLAttribute: "_ddbsync_expires", TombstoneRetention: 15 * 24 * time.Hour,
				MaxAttempts: 10, BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second, DeadlineMargin: time.Second},
		},
		"standard topic": {
			env:     map[string]string{"TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:changes"},
			wantErr: []string{"config: TOPIC_ARN: must be a FIFO topic"},
		},
		"not a topic ARN": {
			env:     map[string]string{"TOPIC_ARN": "changes.fifo"},
			wantErr: []string{"config: TOPIC_ARN: must be an SNS topic ARN"},
		},
		"seq attribute too long": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "SEQ_ATTRIBUTE": strings.Repeat("s", 256)},
			wantErr: []string{"config: SEQ_ATTRIBUTE: must be 1 to 255 characters"},
		},
		"retention as a duration": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_RETENTION": "36h"},
			want: Config{TargetTable: "orders-copy", SeqAttribute: "_ddbsync_seq", Concurrency: 32,
				TombstoneAttribute: "_ddbsync_deleted", TombstoneTTLAttribute: "_ddbsync_expires", TombstoneRetention: 36 * time.Hour,
				MaxAttempts: 10, BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second, DeadlineMargin: time.Second},
		},
		"retention too short": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_RETENTION": "12h"},
			wantErr: []string{`config: TOMBSTONE_RETENTION: "12h" must be from 1d to 365d`},
		},
		"retention too long": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_RETENTION": "366d"},
			wantErr: []string{`config: TOMBSTONE_RETENTION: "366d" must be from 1d to 365d`},
		},
		"retention not a duration": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_RETENTION": "two weeks"},
			wantErr: []string{`config: TOMBSTONE_RETENTION: "two weeks" is not whole days (15d) or a duration (360h)`},
		},
		"tombstone attribute too long": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_ATTRIBUTE": strings.Repeat("d", 256)},
			wantErr: []string{"config: TOMBSTONE_ATTRIBUTE: must be 1 to 255 characters"},
		},
		"attributes must differ": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_TTL_ATTRIBUTE": "_ddbsync_seq"},
			wantErr: []string{`config: TOMBSTONE_TTL_ATTRIBUTE: must differ from SEQ_ATTRIBUTE (both "_ddbsync_seq")`},
		},
		"missing table": {
			env:     map[string]string{},
			wantErr: []string{"config: TARGET_TABLE_NAME: is required"},
		},
		"bad numbers are named": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "WRITE_CONCURRENCY": "lots", "WRITE_MAX_ATTEMPTS": "0"},
			wantErr: []string{`config: WRITE_CONCURRENCY: "lots" is not a whole number from 1 to 256`,
				`config: WRITE_MAX_ATTEMPTS: "0" is not a whole number from 1 to 100`},
		},
		"target role": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_REGION": "eu-west-1",
				"TARGET_ROLE_ARN": "arn:aws:iam::111122223333:role/ddbsync/target", "TARGET_ROLE_EXTERNAL_ID": "orders-2026"},
			want: Config{TargetTable: "orders-copy", TargetRegion: "eu-west-1", SeqAttribute: "_ddbsync_seq", Concurrency: 32,
				TargetRoleARN: "arn:aws:iam::111122223333:role/ddbsync/target", TargetRoleExternalID: "orders-2026",
				TombstoneAttribute: "_ddbsync_deleted", TombstoneTTLAttribute: "_ddbsync_expires", TombstoneRetention: 15 * 24 * time.Hour, MaxAttempts: 10,
				BaseDelay: 25 * time.Millisecond, MaxDelay: 2 * time.Second, DeadlineMargin: time.Second},
		},
		"malformed role ARN": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_ROLE_ARN": "arn:aws:iam::1234:user/bob"},
			wantErr: []string{`config: TARGET_ROLE_ARN: "arn:aws:iam::1234:user/bob" is not an IAM role ARN`},
		},
		"external ID without a role": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_ROLE_EXTERNAL_ID": "orders-2026"},
			wantErr: []string{"config: TARGET_ROLE_EXTERNAL_ID: needs TARGET_ROLE_ARN"},
		},
		"role without a target table": {
			env:     map[string]string{"TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:changes.fifo", "TARGET_ROLE_ARN": "arn:aws:iam::111122223333:role/r"},
			wantErr: []string{"config: TARGET_ROLE_ARN: needs TARGET_TABLE_NAME: the role is assumed for the target table only"},
		},
		"bad external ID": {
			env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_ROLE_ARN": "arn:aws:iam::111122223333:role/r",
				"TARGET_ROLE_EXTERNAL_ID": "a b"},
			wantErr: []string{`config: TARGET_ROLE_EXTERNAL_ID: external ID has ' '`},
		},
		"base delay above max": {
			env:     map[string]string{"TARGET_TABLE_NAME": "orders-copy", "RETRY_BASE_DELAY_MS": "900", "RETRY_MAX_DELAY_MS": "100"},
			wantErr: []string{"config: RETRY_BASE_DELAY_MS: must not exceed RETRY_MAX_DELAY_MS"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConfig_Names(t *testing.T) {
	env := map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOMBSTONE_TTL_ATTRIBUTE": "ttl"}
	c, err := configFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, replattr.Names{Seq: replattr.DefaultSeq, Deleted: replattr.DefaultDeleted, Expires: "ttl"}, c.Names())
}

func TestConfig_Replicator(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:123456789012:changes.fifo"
	tests := map[string]struct {
		env  map[string]string
		want replicator.Mode
	}{
		"table: the stream and the queue": {env: map[string]string{"TARGET_TABLE_NAME": "orders-copy"}, want: replicator.ModeApply | replicator.ModeQueue},
		"topic: publish only":             {env: map[string]string{"TOPIC_ARN": topic}, want: replicator.ModePublish},
		"both: publish besides the table": {env: map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TOPIC_ARN": topic}, want: replicator.ModeApply | replicator.ModeQueue | replicator.ModePublish},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := configFromEnv(func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			metrics := &strings.Builder{}
			r := c.Replicator(nil, metrics)
			assert.Equal(t, tt.want, r.Mode)
			require.NoError(t, r.Validate())
			assert.Equal(t, c.TargetTable, r.TargetTable)
			assert.Equal(t, c.TopicARN, r.TopicARN)
			assert.Equal(t, c.Names(), r.Names)
			assert.Equal(t, retry.Policy{MaxAttempts: c.MaxAttempts, BaseDelay: c.BaseDelay, MaxDelay: c.MaxDelay}, r.Retry)
			assert.Equal(t, c.Concurrency, r.Concurrency)
			assert.Equal(t, c.DeadlineMargin, r.DeadlineMargin)
			assert.Equal(t, c.TombstoneRetention, r.TombstoneRetention)
			assert.Same(t, metrics, r.Metrics)
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	tests := map[string]struct {
		env    map[string]string
		want   int64
		wantOK bool
	}{
		"from the function's memory":  {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, want: 48 << 20, wantOK: true},
		"large function":              {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}, want: 1769 << 20 * 3 / 8, wantOK: true},
		"explicit GOMEMLIMIT wins":    {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "GOMEMLIMIT": "100MiB"}},
		"explicit GOGC wins":          {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "GOGC": "50"}},
		"outside Lambda":              {env: map[string]string{}},
		"not a number":                {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}},
		"below Lambda's least memory": {env: map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "64"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := memoryLimit(func(k string) string { return tt.env[k] })
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConfig_Replicator_TargetRole(t *testing.T) {
	env := map[string]string{"TARGET_TABLE_NAME": "orders-copy", "TARGET_ROLE_ARN": "arn:aws:iam::111122223333:role/r", "TARGET_ROLE_EXTERNAL_ID": "ext-1"}
	c, err := configFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, dynamo.Role{ARN: "arn:aws:iam::111122223333:role/r", ExternalID: "ext-1"}, c.Replicator(nil, nil).TargetRole)
}

// TestConfigFromEnv_Rules reads the rule set of RULES (inline or base64)
// or RULES_FILE, and names the variable, the rule and the line of an
// invalid one.
func TestConfigFromEnv_Rules(t *testing.T) {
	const inline = `{"rules":[{"name":"no-email","exclude":["email"]},{"rename":{"status":"state"}}],"ttl_deletes":"skip"}`
	abs, err := filepath.Abs(filepath.Join("testdata", "rules", "orders.yaml"))
	require.NoError(t, err)
	root, err := filepath.Abs("testdata")
	require.NoError(t, err)
	tests := map[string]struct {
		env        map[string]string
		wantRules  int // number of rules; -1: no rule set
		wantTTL    rules.TTLPolicy
		wantSource string
		wantErr    []string
	}{
		"none":             {env: map[string]string{}, wantRules: -1},
		"inline JSON":      {env: map[string]string{"RULES": inline}, wantRules: 2, wantTTL: rules.TTLSkip, wantSource: "RULES"},
		"inline base64":    {env: map[string]string{"RULES": base64.StdEncoding.EncodeToString([]byte(inline))}, wantRules: 2, wantTTL: rules.TTLSkip, wantSource: "RULES"},
		"inline YAML":      {env: map[string]string{"RULES": "rules:\n  - exclude: [email]\n"}, wantRules: 1, wantTTL: rules.TTLReplicate, wantSource: "RULES"},
		"file, absolute":   {env: map[string]string{"RULES_FILE": abs}, wantRules: 5, wantTTL: rules.TTLSkip, wantSource: "RULES_FILE " + abs},
		"file in the task": {env: map[string]string{"RULES_FILE": "rules/orders.yaml", "LAMBDA_TASK_ROOT": root}, wantRules: 5, wantTTL: rules.TTLSkip, wantSource: "RULES_FILE " + abs},
		"both set": {env: map[string]string{"RULES": inline, "RULES_FILE": abs},
			wantErr: []string{"config: RULES: set RULES or RULES_FILE, not both"}},
		"invalid inline rule names the rule and line": {env: map[string]string{"RULES": "rules:\n  - name: ok\n    exclude: [email]\n  - name: broken\n    set: {x: 'total *'}\n"},
			wantErr: []string{`config: RULES: environment:5: rule "broken": set x:`}},
		"not a rule set": {env: map[string]string{"RULES": "not base64!"},
			wantErr: []string{"config: RULES: environment: want the rule set's JSON or its base64 encoding"}},
		"invalid file names the rule and line": {env: map[string]string{"RULES_FILE": "rules/bad.yaml", "LAMBDA_TASK_ROOT": root},
			wantErr: []string{`config: RULES_FILE: rules/bad.yaml:6: rule "broken": set total_cents:`}},
		"missing file": {env: map[string]string{"RULES_FILE": "rules/none.yaml", "LAMBDA_TASK_ROOT": root},
			wantErr: []string{"config: RULES_FILE: read rule set: open " + filepath.Join(root, "rules", "none.yaml")}},
		"publisher only": {env: map[string]string{"RULES": inline, "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:changes.fifo", "TARGET_TABLE_NAME": ""},
			wantErr: []string{"config: RULES: needs TARGET_TABLE_NAME: the rules are applied where the changes are written"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"TARGET_TABLE_NAME": "orders-copy"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := configFromEnv(func(k string) string { return env[k] })
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			if tt.wantRules < 0 {
				assert.Nil(t, c.Rules)
				assert.Nil(t, c.Replicator(nil, nil).Rules)
				return
			}
			require.NotNil(t, c.Rules)
			assert.Len(t, c.Rules.Rules, tt.wantRules)
			assert.Equal(t, tt.wantTTL, c.Rules.TTL)
			assert.Equal(t, tt.wantSource, c.RulesSource)
			assert.Same(t, c.Rules, c.Replicator(nil, nil).Rules)
		})
	}
}
