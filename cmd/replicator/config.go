package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
)

// Config is the replicator's configuration, read once from the environment.
type Config struct {
	// TargetTable is the table written to (TARGET_TABLE_NAME, required).
	TargetTable string
	// TargetRegion is the target table's region (TARGET_REGION, default the
	// function's own region).
	TargetRegion string
	// Concurrency bounds the BatchWriteItem calls in flight (WRITE_CONCURRENCY).
	Concurrency int
	// MaxAttempts is how many times a write is tried (WRITE_MAX_ATTEMPTS).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the retry backoff (RETRY_BASE_DELAY_MS,
	// RETRY_MAX_DELAY_MS).
	BaseDelay, MaxDelay time.Duration
	// DeadlineMargin is kept free before the invocation deadline (DEADLINE_MARGIN_MS).
	DeadlineMargin time.Duration
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
	}
	var errs []error
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
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate checks the fields that have no usable default.
func (c Config) Validate() error {
	var errs []error
	if c.TargetTable == "" {
		errs = append(errs, &ConfigError{Var: "TARGET_TABLE_NAME", Err: errors.New("is required: the name of the table to replicate into")})
	} else if len(c.TargetTable) < 3 || len(c.TargetTable) > 255 {
		errs = append(errs, &ConfigError{Var: "TARGET_TABLE_NAME", Err: errors.New("must be 3 to 255 characters")})
	}
	if c.BaseDelay > c.MaxDelay {
		errs = append(errs, &ConfigError{Var: "RETRY_BASE_DELAY_MS", Err: errors.New("must not exceed RETRY_MAX_DELAY_MS")})
	}
	return errors.Join(errs...)
}
