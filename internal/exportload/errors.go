package exportload

import (
	"errors"
	"fmt"
)

// Errors a load can be refused with; each is wrapped with the object or
// table it is about.
var (
	// ErrChecksum marks a data file whose MD5 differs from the manifest's
	// md5Checksum: nothing of it is written.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrItemCount marks a data file (or an export) whose item count
	// differs from its manifest: nothing of it is written.
	ErrItemCount = errors.New("item count mismatch")
	// ErrCorrupt marks a manifest or data file that cannot be read: a
	// broken gzip stream, a line that is not JSON, an item without the
	// target's key.
	ErrCorrupt = errors.New("corrupt export file")
	// ErrUnsupported marks an export the loader cannot use (ION format, an
	// incremental export).
	ErrUnsupported = errors.New("unsupported export")
	// ErrPITRDisabled is returned when the source table does not have
	// point-in-time recovery, which ExportTableToPointInTime needs.
	ErrPITRDisabled = errors.New("point-in-time recovery is not enabled")
	// ErrExportTooOld is returned when the export's time is so far in the
	// past that the stream records since then may leave the stream (24
	// hours of retention) before replication catches up.
	ErrExportTooOld = errors.New("export too old for a gap-free hand-over")
	// ErrExportFailed is returned when the export ends in FAILED.
	ErrExportFailed = errors.New("export failed")
	// ErrCheckpointMismatch is returned when the checkpoint file belongs
	// to another export or target table.
	ErrCheckpointMismatch = errors.New("checkpoint belongs to another load")
)

// FileError is the error of one data file: its key, how far it was
// written, and the cause.
type FileError struct {
	// Key is the data file's S3 key.
	Key string
	// LinesDone is the file's watermark: its first LinesDone lines are
	// written.
	LinesDone int64
	// Err is the cause.
	Err error
}

// Error says which file failed and why.
func (e *FileError) Error() string {
	return fmt.Sprintf("load %s (first %d lines written): %v", e.Key, e.LinesDone, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// IsVerifyError reports whether err refuses a data file or an export for
// its content (checksum, item count, corruption, format): retrying cannot
// help.
func IsVerifyError(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrItemCount) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported)
}
