package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Defaults of the export worker's configuration.
const (
	// DefaultStopMargin is kept free before the invocation deadline: the
	// load stops starting batches then and returns its watermark, so that
	// the state machine invokes the function again from there.
	DefaultStopMargin = 30 * time.Second
)

// Config is the export worker's configuration, read once from the
// environment.
type Config struct {
	// TargetTable is the table loaded into (TARGET_TABLE_NAME). Required.
	TargetTable string
	// TargetRegion is the target's region (TARGET_REGION, default the
	// function's).
	TargetRegion string
	// Concurrency bounds the BatchWriteItem calls in flight
	// (WRITE_CONCURRENCY, default exportload.DefaultConcurrency).
	Concurrency int
	// MaxAttempts is how many times a write is tried (WRITE_MAX_ATTEMPTS).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the retry backoff (RETRY_BASE_DELAY_MS,
	// RETRY_MAX_DELAY_MS).
	BaseDelay, MaxDelay time.Duration
	// StopMargin is kept free before the deadline (STOP_MARGIN_MS, default
	// DefaultStopMargin).
	StopMargin time.Duration
	// S3PathStyle addresses buckets by path (S3_USE_PATH_STYLE=true), for
	// local S3 emulators; AWS needs no such setting.
	S3PathStyle bool
	// Rules is the rule set the copy is made with, as the replicator's:
	// RULES (the YAML or JSON inline, or its base64; rules.ParseEnv) or
	// RULES_FILE (a path relative to LAMBDA_TASK_ROOT, the deployment
	// package's root), not both; nil when neither is set.
	Rules *rules.RuleSet
	// SourceKeys names the exported (source) table's key attributes,
	// partition key first (SOURCE_KEYS, comma-separated): required with a
	// rule set, since the exported items are keyed as the source is and the
	// worker describes only the target. Without rules the target's key is
	// the source's.
	SourceKeys []string
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
		Concurrency:  exportload.DefaultConcurrency,
		StopMargin:   DefaultStopMargin,
	}
	var err error
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" && err == nil {
			n, perr := strconv.Atoi(v)
			if perr != nil || n <= 0 {
				err = &ConfigError{Var: name, Err: fmt.Errorf("want a positive integer, got %q", v)}
				return
			}
			*dst = n
		}
	}
	ms := func(name string, dst *time.Duration) {
		n := 0
		num(name, &n)
		if n > 0 {
			*dst = time.Duration(n) * time.Millisecond
		}
	}
	num("WRITE_CONCURRENCY", &c.Concurrency)
	num("WRITE_MAX_ATTEMPTS", &c.MaxAttempts)
	ms("RETRY_BASE_DELAY_MS", &c.BaseDelay)
	ms("RETRY_MAX_DELAY_MS", &c.MaxDelay)
	ms("STOP_MARGIN_MS", &c.StopMargin)
	if v := getenv("S3_USE_PATH_STYLE"); v != "" && err == nil {
		c.S3PathStyle, err = strconv.ParseBool(v)
		if err != nil {
			err = &ConfigError{Var: "S3_USE_PATH_STYLE", Err: err}
		}
	}
	if err == nil {
		c.Rules, err = rulesFromEnv(getenv)
	}
	if v := getenv("SOURCE_KEYS"); v != "" && err == nil {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.SourceKeys = append(c.SourceKeys, k)
			}
		}
		if len(c.SourceKeys) == 0 || len(c.SourceKeys) > 2 {
			err = &ConfigError{Var: "SOURCE_KEYS", Err: fmt.Errorf("want one or two attribute names, comma-separated, got %q", v)}
		}
	}
	if err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// rulesFromEnv reads RULES or RULES_FILE (nil if neither is set).
func rulesFromEnv(getenv func(string) string) (*rules.RuleSet, error) {
	inline, file := getenv("RULES"), getenv("RULES_FILE")
	switch {
	case inline != "" && file != "":
		return nil, &ConfigError{Var: "RULES_FILE", Err: errors.New("set RULES or RULES_FILE, not both")}
	case inline != "":
		rs, err := rules.ParseEnv(inline)
		if err != nil {
			return nil, &ConfigError{Var: "RULES", Err: err}
		}
		return rs, nil
	case file != "":
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(getenv("LAMBDA_TASK_ROOT"), path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, &ConfigError{Var: "RULES_FILE", Err: fmt.Errorf("read rule set: %w", err)}
		}
		rs, err := rules.Parse(file, src)
		if err != nil {
			return nil, &ConfigError{Var: "RULES_FILE", Err: err}
		}
		return rs, nil
	}
	return nil, nil
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.TargetTable == "" {
		return &ConfigError{Var: "TARGET_TABLE_NAME", Err: errors.New("required")}
	}
	if !c.Rules.IsIdentity() && len(c.SourceKeys) == 0 {
		return &ConfigError{Var: "SOURCE_KEYS", Err: errors.New("required with a rule set (RULES or RULES_FILE): the source table's key attributes")}
	}
	if c.Concurrency > 64 {
		return &ConfigError{Var: "WRITE_CONCURRENCY", Err: fmt.Errorf("at most 64, got %d", c.Concurrency)}
	}
	return nil
}
