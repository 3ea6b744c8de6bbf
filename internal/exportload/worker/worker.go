// Package worker is the Lambda handler that loads one data file of a
// DynamoDB export: the function behind the Distributed Map of
// template-backfill.yaml, and the same [exportload.FileLoader] that
// `ddbsync backfill --from-export` runs locally.
//
// # Input and output
//
// The state machine's Distributed Map reads manifest-files.json with an
// ItemReader of InputType JSONL: each line becomes one item, and its
// ItemSelector makes each child execution's input an [Input]: the bucket,
// the manifest line as File, and LinesDone (0 at first). The child passes
// it as is to the function (lambda:invoke, Payload "$"). The function
// answers an [Output]; when Done is false (the invocation ran out of time:
// the load stops [exportload.FileLoader.StopMargin] before the deadline),
// the child calls it again with the Output's LinesDone.
//
// # Errors
//
// The errorType Step Functions sees is the Go type name of the error the
// handler returns (aws-lambda-go reports it so): "RetryableError" for
// throttling, 5xx and connection errors that outlived dynamo.Table's own
// retries (the state machine retries them with backoff), "VerifyError" for
// a file that does not match its manifest and "InputError" for a malformed
// input (never retried: the execution fails, since the tolerated failure
// is 0), "RulesError" for a file whose items the rule set (RULES or
// RULES_FILE) failed on or mapped two of to one target key in a batch
// (the file is loaded but for them; not retried, the rules must change),
// and "LoadError" for anything else.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
)

// Input is one child execution's input: the ItemSelector's output.
type Input struct {
	// Bucket is the export's bucket.
	Bucket string `json:"Bucket"`
	// File is the data file's line of manifest-files.json.
	File exportload.File `json:"File"`
	// LinesDone is how many of the file's lines an earlier invocation
	// wrote (0 at first).
	LinesDone int64 `json:"LinesDone"`
}

// Output is the function's answer for one data file.
type Output struct {
	// Key is the data file's key.
	Key string `json:"Key"`
	// Items is the file's verified item count.
	Items int64 `json:"Items"`
	// Written counts the items written by this invocation.
	Written int64 `json:"Written"`
	// LinesDone is the watermark: the file's first LinesDone lines are
	// written.
	LinesDone int64 `json:"LinesDone"`
	// Done is true when the whole file is written; false asks for another
	// invocation from LinesDone.
	Done bool `json:"Done"`
	// Retries counts write retries.
	Retries int `json:"Retries"`
	// With rules: Filtered counts the lines a filter dropped, Failed those
	// not written (the rules failed on them, or collisions).
	Filtered int64 `json:"Filtered,omitempty"`
	Failed   int64 `json:"Failed,omitempty"`
}

// RulesError is a file loaded except for items the rule set could not
// copy; the message names the first ones by key.
type RulesError struct{ Err error }

// Error returns the cause's message.
func (e *RulesError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *RulesError) Unwrap() error { return e.Err }

// RetryableError is a failure worth retrying later (throttling, 5xx).
type RetryableError struct{ Err error }

// Error returns the cause's message.
func (e *RetryableError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *RetryableError) Unwrap() error { return e.Err }

// VerifyError is a data file refused for its content.
type VerifyError struct{ Err error }

// Error returns the cause's message.
func (e *VerifyError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// InputError is a malformed input.
type InputError struct{ Err error }

// Error returns the cause's message.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// LoadError is any other failure.
type LoadError struct{ Err error }

// Error returns the cause's message.
func (e *LoadError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// Handler loads the data file of each invocation.
type Handler struct {
	loader *exportload.FileLoader
	logger *slog.Logger
}

// New returns a Handler loading with l, logging to logger (nil: discard).
func New(l *exportload.FileLoader, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{loader: l, logger: logger}
}

// Handle verifies and loads in.File from in.LinesDone on. See the package
// doc for its errors.
func (h *Handler) Handle(ctx context.Context, in Input) (Output, error) {
	if in.Bucket == "" || in.File.DataFileS3Key == "" || in.File.MD5Checksum == "" || in.LinesDone < 0 {
		return Output{}, &InputError{Err: fmt.Errorf("load file: Bucket, File.dataFileS3Key and File.md5Checksum are required, LinesDone >= 0; got %+v", in)}
	}
	res, err := h.loader.LoadFile(ctx, in.Bucket, in.File, in.LinesDone, nil)
	out := Output{Key: res.Key, Items: res.Items, Written: res.Written, LinesDone: res.LinesDone, Done: res.Done, Retries: res.Retries,
		Filtered: res.Filtered, Failed: res.Failed}
	if err == nil && res.Failed > 0 {
		err = &RulesError{Err: rulesFailure(res)}
	}
	if err != nil {
		h.logger.ErrorContext(ctx, "file failed", slog.String("file", in.File.DataFileS3Key), slog.Int64("linesDone", res.LinesDone),
			slog.String("errorClass", dynamo.ErrorClass(err)))
		return out, classify(err)
	}
	h.logger.InfoContext(ctx, "file loaded", slog.String("file", in.File.DataFileS3Key), slog.Int64("written", res.Written),
		slog.Int64("linesDone", res.LinesDone), slog.Bool("done", res.Done))
	return out, nil
}

// maxNamedFailures bounds the items a RulesError names.
const maxNamedFailures = 5

// rulesFailure describes the items of res the rules could not copy.
func rulesFailure(res exportload.FileResult) error {
	var names []string
	for i, f := range res.FailedItems {
		if i == maxNamedFailures {
			break
		}
		names = append(names, f.String())
	}
	return fmt.Errorf("load file %s: %w: %d items (%d collisions): %s", res.Key, exportload.ErrItemsFailed, res.Failed, res.Collisions, strings.Join(names, "; "))
}

// classify wraps err in the type Step Functions branches on.
func classify(err error) error {
	var re *RulesError
	switch {
	case errors.As(err, &re):
		return re
	case exportload.IsVerifyError(err):
		return &VerifyError{Err: err}
	case errors.Is(err, dynamo.ErrRetriesExhausted), dynamo.Transient(err): // Transient includes a timed-out call
		return &RetryableError{Err: err}
	}
	return &LoadError{Err: err}
}
