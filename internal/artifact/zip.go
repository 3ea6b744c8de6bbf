package artifact

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
)

// zipEpoch is 1980-01-01 00:00:00 in MS-DOS date and time format, the
// earliest time a zip entry can hold (also what SAM's zipper writes).
const (
	zipEpochDate = 1<<5 | 1 // (1980-1980)<<9 | month 1<<5 | day 1
	zipEpochTime = 0
)

// FileMode is the mode of the zipped file: Lambda runs bootstrap, so it
// must be executable.
const FileMode fs.FileMode = 0o755

// Zip writes to w a zip archive holding one file, name, with data. The
// output depends only on name and data: the entry has a fixed time and
// mode, is deflated, and carries no extra fields.
func Zip(w io.Writer, name string, data []byte) error {
	zw := zip.NewWriter(w)
	h := &zip.FileHeader{
		Name:         name,
		Method:       zip.Deflate,
		ModifiedDate: zipEpochDate,
		ModifiedTime: zipEpochTime,
	}
	h.SetMode(FileMode)
	f, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("create zip entry %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write zip entry %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("close zip: %w", err)
	}
	return nil
}

// CodeSHA256 returns what Lambda reports as a function's CodeSha256 for a
// deployment package: the base64 (standard encoding) of its SHA-256.
func CodeSHA256(pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return base64.StdEncoding.EncodeToString(sum[:])
}
