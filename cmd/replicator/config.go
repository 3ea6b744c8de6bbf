package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicator"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Config is the replicator's configuration, read once from the environment.
type Config struct {
	// TargetTable is the table written to (TARGET_TABLE_NAME). At least one
	// of TargetTable and TopicARN is required.
	TargetTable string
	// TopicARN is the SNS FIFO topic stream records are published to
	// (TOPIC_ARN): publish mode, instead of or besides TargetTable.
	TopicARN string
	// SeqAttribute names the target attribute holding the stream sequence
	// number of the last change applied from SQS (SEQ_ATTRIBUTE, default
	// dynamo.DefaultSeqAttribute).
	SeqAttribute string
	// TombstoneAttribute marks the tombstone a guarded delete leaves
	// (TOMBSTONE_ATTRIBUTE, default replattr.DefaultDeleted).
	TombstoneAttribute string
	// TombstoneTTLAttribute holds a tombstone's expiry in epoch seconds
	// (TOMBSTONE_TTL_ATTRIBUTE, default replattr.DefaultExpires). Enable the
	// target's TTL on it; a table has one TTL attribute, so if the target
	// already has TTL enabled, set this to that attribute.
	TombstoneTTLAttribute string
	// TombstoneRetention is how long tombstones are kept
	// (TOMBSTONE_RETENTION: whole days such as "15d", or a Go duration such
	// as "360h"; default dynamo.DefaultTombstoneRetention, 1 to 365 days).
	// Keep it above the dead-letter queue's retention plus one day.
	TombstoneRetention time.Duration
	// SourceTable names the source table that keys-only messages are
	// re-read from in apply mode (SOURCE_TABLE, a name or an ARN; default
	// the table ARN carried by each message).
	SourceTable string
	// TargetRegion is the target table's region (TARGET_REGION, default the
	// function's own region).
	TargetRegion string
	// TargetRoleARN is an IAM role assumed for the target table only
	// (TARGET_ROLE_ARN: a target in another account; default none, the
	// function's own role).
	TargetRoleARN string
	// TargetRoleExternalID is passed to AssumeRole as its external ID
	// (TARGET_ROLE_EXTERNAL_ID; needs TARGET_ROLE_ARN).
	TargetRoleExternalID string
	// Concurrency bounds the BatchWriteItem calls in flight (WRITE_CONCURRENCY).
	Concurrency int
	// MaxAttempts is how many times a write is tried (WRITE_MAX_ATTEMPTS).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the retry backoff (RETRY_BASE_DELAY_MS,
	// RETRY_MAX_DELAY_MS).
	BaseDelay, MaxDelay time.Duration
	// DeadlineMargin is kept free before the invocation deadline (DEADLINE_MARGIN_MS).
	DeadlineMargin time.Duration
	// Rules is the rule set applied on the way to the target table: RULES
	// (the rule set's JSON or YAML, or its base64) or RULES_FILE (a file of
	// the deployment package; a relative path is under LAMBDA_TASK_ROOT).
	// nil when neither is set: items are copied as they are.
	Rules *rules.RuleSet
	// RulesSource says where Rules came from ("RULES", or "RULES_FILE"
	// and the path read), for the start-up log line.
	RulesSource string
}

// ConfigError names the environment variable that is wrong.
type ConfigError struct {
	Var string
	Err error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("config: %s: %v", e.Var, e.Err) }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// configFromEnv reads the configuration through getenv and validates it.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TargetTable:  getenv("TARGET_TABLE_NAME"),
		TargetRegion: getenv("TARGET_REGION"),
		TopicARN:     getenv("TOPIC_ARN"),
		SeqAttribute: getenv("SEQ_ATTRIBUTE"),
		SourceTable:  getenv("SOURCE_TABLE"),

		TargetRoleARN:        getenv("TARGET_ROLE_ARN"),
		TargetRoleExternalID: getenv("TARGET_ROLE_EXTERNAL_ID"),

		TombstoneAttribute:    getenv("TOMBSTONE_ATTRIBUTE"),
		TombstoneTTLAttribute: getenv("TOMBSTONE_TTL_ATTRIBUTE"),
	}
	names := replattr.Names{Seq: c.SeqAttribute, Deleted: c.TombstoneAttribute, Expires: c.TombstoneTTLAttribute}.WithDefaults()
	c.SeqAttribute, c.TombstoneAttribute, c.TombstoneTTLAttribute = names.Seq, names.Deleted, names.Expires
	var errs []error
	c.TombstoneRetention = dynamo.DefaultTombstoneRetention
	if s := getenv("TOMBSTONE_RETENTION"); s != "" {
		d, err := parseRetention(s)
		if err != nil {
			errs = append(errs, &ConfigError{Var: "TOMBSTONE_RETENTION", Err: err})
		} else {
			c.TombstoneRetention = d
		}
	}
	intVar := func(name string, def, lo, hi int) int {
		s := getenv(name)
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			errs = append(errs, &ConfigError{Var: name, Err: fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi)})
			return def
		}
		return n
	}
	ms := func(name string, def time.Duration, hi int) time.Duration {
		return time.Duration(intVar(name, int(def/time.Millisecond), 1, hi)) * time.Millisecond
	}
	c.Concurrency = intVar("WRITE_CONCURRENCY", replicate.DefaultConcurrency, 1, 256)
	c.MaxAttempts = intVar("WRITE_MAX_ATTEMPTS", dynamo.DefaultMaxAttempts, 1, 100)
	c.BaseDelay = ms("RETRY_BASE_DELAY_MS", dynamo.DefaultBaseDelay, 60_000)
	c.MaxDelay = ms("RETRY_MAX_DELAY_MS", dynamo.DefaultMaxDelay, 60_000)
	c.DeadlineMargin = ms("DEADLINE_MARGIN_MS", replicate.DefaultDeadlineMargin, 60_000)
	if err := c.readRules(getenv("RULES"), getenv("RULES_FILE"), getenv("LAMBDA_TASK_ROOT")); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// readRules reads the rule set of RULES (inline) or RULES_FILE (file, a
// relative path under root, LAMBDA_TASK_ROOT), if one is set. The errors
// name the variable and, for an invalid rule set, the rule and line
// (rules.Error).
func (c *Config) readRules(inline, file, root string) error {
	switch {
	case inline != "" && file != "":
		return &ConfigError{Var: "RULES", Err: errors.New("set RULES or RULES_FILE, not both")}
	case inline != "":
		rs, err := rules.ParseEnv(inline)
		if err != nil {
			return &ConfigError{Var: "RULES", Err: err}
		}
		c.Rules, c.RulesSource = rs, "RULES"
	case file != "":
		path := file
		if !filepath.IsAbs(path) && root != "" {
			path = filepath.Join(root, path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return &ConfigError{Var: "RULES_FILE", Err: fmt.Errorf("read rule set: %w", err)}
		}
		rs, err := rules.Parse(file, src)
		if err != nil {
			return &ConfigError{Var: "RULES_FILE", Err: err}
		}
		c.Rules, c.RulesSource = rs, "RULES_FILE "+path
	}
	return nil
}

// Bounds of TOMBSTONE_RETENTION: at least the 24 hours a stream record can
// be retried, at most a year.
const (
	minTombstoneRetention = 24 * time.Hour
	maxTombstoneRetention = 365 * 24 * time.Hour
)

// parseRetention reads a retention given as whole days ("15d") or as a Go
// duration ("360h").
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not whole days (15d) or a duration (360h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not whole days (15d) or a duration (360h)", s)
		}
	}
	if d < minTombstoneRetention || d > maxTombstoneRetention {
		return 0, fmt.Errorf("%q must be from 1d to 365d: keep it above the dead-letter queue's retention plus a day", s)
	}
	return d, nil
}

// rulesVar names the variable the rule set came from.
func (c Config) rulesVar() string {
	if strings.HasPrefix(c.RulesSource, "RULES_FILE") {
		return "RULES_FILE"
	}
	return "RULES"
}

// Names returns the attribute names of the stale-write guard.
func (c Config) Names() replattr.Names {
	return replattr.Names{Seq: c.SeqAttribute, Deleted: c.TombstoneAttribute, Expires: c.TombstoneTTLAttribute}
}

// Replicator returns the configuration of the replicator the function
// runs, reporting to logger and metrics. TARGET_TABLE_NAME applies both
// stream events and the queue topology's SQS events (its apply function has
// the same environment as the direct one); TOPIC_ARN publishes stream
// events, besides applying them when a target table is set too.
func (c Config) Replicator(logger *slog.Logger, metrics io.Writer) replicator.Config {
	var mode replicator.Mode
	if c.TargetTable != "" {
		mode |= replicator.ModeApply | replicator.ModeQueue
	}
	if c.TopicARN != "" {
		mode |= replicator.ModePublish
	}
	return replicator.Config{
		Mode:               mode,
		TargetTable:        c.TargetTable,
		TargetRegion:       c.TargetRegion,
		TargetRole:         dynamo.Role{ARN: c.TargetRoleARN, ExternalID: c.TargetRoleExternalID},
		TopicARN:           c.TopicARN,
		SourceTable:        c.SourceTable,
		Names:              c.Names(),
		TombstoneRetention: c.TombstoneRetention,
		Concurrency:        c.Concurrency,
		Retry:              retry.Policy{MaxAttempts: c.MaxAttempts, BaseDelay: c.BaseDelay, MaxDelay: c.MaxDelay},
		DeadlineMargin:     c.DeadlineMargin,
		Rules:              c.Rules,
		Logger:             logger,
		Metrics:            metrics,
	}
}

// Validate checks the fields that have no usable default.
func (c Config) Validate() error {
	var errs []error
	if c.TargetTable == "" && c.TopicARN == "" {
		errs = append(errs, &ConfigError{Var: "TARGET_TABLE_NAME", Err: errors.New("is required: the name of the table to replicate into (or set TOPIC_ARN)")})
	} else if c.TargetTable != "" && (len(c.TargetTable) < 3 || len(c.TargetTable) > 255) {
		errs = append(errs, &ConfigError{Var: "TARGET_TABLE_NAME", Err: errors.New("must be 3 to 255 characters")})
	}
	if c.TopicARN != "" {
		if parts := strings.Split(c.TopicARN, ":"); len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" {
			errs = append(errs, &ConfigError{Var: "TOPIC_ARN", Err: errors.New("must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME.fifo)")})
		} else if !strings.HasSuffix(c.TopicARN, ".fifo") {
			errs = append(errs, &ConfigError{Var: "TOPIC_ARN", Err: errors.New("must be a FIFO topic (name ending in .fifo): a standard topic loses order")})
		}
	}
	if c.TargetRoleARN != "" {
		if err := dynamo.ValidateRoleARN(c.TargetRoleARN); err != nil {
			errs = append(errs, &ConfigError{Var: "TARGET_ROLE_ARN", Err: err})
		} else if c.TargetTable == "" {
			// A publisher writes no table: the role would never be used.
			errs = append(errs, &ConfigError{Var: "TARGET_ROLE_ARN", Err: errors.New("needs TARGET_TABLE_NAME: the role is assumed for the target table only")})
		}
	}
	if c.TargetRoleExternalID != "" {
		if c.TargetRoleARN == "" {
			errs = append(errs, &ConfigError{Var: "TARGET_ROLE_EXTERNAL_ID", Err: errors.New("needs TARGET_ROLE_ARN: the role it is passed to")})
		} else if err := dynamo.ValidateExternalID(c.TargetRoleExternalID); err != nil {
			errs = append(errs, &ConfigError{Var: "TARGET_ROLE_EXTERNAL_ID", Err: err})
		}
	}
	attrs := []struct{ name, value string }{
		{"SEQ_ATTRIBUTE", c.SeqAttribute}, {"TOMBSTONE_ATTRIBUTE", c.TombstoneAttribute}, {"TOMBSTONE_TTL_ATTRIBUTE", c.TombstoneTTLAttribute},
	}
	for i, a := range attrs {
		if a.value == "" || len(a.value) > 255 {
			errs = append(errs, &ConfigError{Var: a.name, Err: errors.New("must be 1 to 255 characters")})
			continue
		}
		for _, b := range attrs[:i] {
			if a.value == b.value {
				errs = append(errs, &ConfigError{Var: a.name, Err: fmt.Errorf("must differ from %s (both %q)", b.name, a.value)})
			}
		}
	}
	if c.TombstoneRetention < minTombstoneRetention || c.TombstoneRetention > maxTombstoneRetention {
		errs = append(errs, &ConfigError{Var: "TOMBSTONE_RETENTION", Err: errors.New("must be from 1d to 365d")})
	}
	if c.Rules != nil && c.TargetTable == "" {
		// A publisher forwards the records raw: the apply function applies the rules.
		errs = append(errs, &ConfigError{Var: c.rulesVar(), Err: errors.New("needs TARGET_TABLE_NAME: the rules are applied where the changes are written " +
			"(on the queue path, set them on the apply function, not the publisher)")})
	}
	if c.BaseDelay > c.MaxDelay {
		errs = append(errs, &ConfigError{Var: "RETRY_BASE_DELAY_MS", Err: errors.New("must not exceed RETRY_MAX_DELAY_MS")})
	}
	return errors.Join(errs...)
}

// memoryLimitShare is the part of the function's memory given to the Go
// runtime as its soft limit: low enough that the collector runs before the
// heap doubles (the default GOGC pacing would let a 6 MB batch take about
// 70 MB), high enough above a 10,000-record batch's live data (about 20 MB)
// that the collector does not run continuously.
const (
	memoryLimitNum, memoryLimitDen = 3, 8
	minLambdaMemoryMB              = 128
)

// memoryLimit returns the soft memory limit (runtime/debug.SetMemoryLimit)
// derived from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, in bytes: 3/8 of the
// function's memory. ok is false, and nothing is to be set, when GOMEMLIMIT
// or GOGC is set (an explicit setting wins) or the size is not a Lambda
// memory size.
func memoryLimit(getenv func(string) string) (limit int64, ok bool) {
	if getenv("GOMEMLIMIT") != "" || getenv("GOGC") != "" {
		return 0, false
	}
	mb, err := strconv.ParseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64)
	if err != nil || mb < minLambdaMemoryMB || mb > 1<<20 {
		return 0, false
	}
	return mb << 20 * memoryLimitNum / memoryLimitDen, true
}
